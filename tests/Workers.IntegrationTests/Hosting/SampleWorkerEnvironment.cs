namespace Workers.IntegrationTests.Hosting;

/// <summary>The environment a sample worker process runs with in these tests: its broker, its database, a quick stop, no payment latency, any free HTTP port.</summary>
internal static class SampleWorkerEnvironment
{
    public static Dictionary<string, string> For(Uri broker, string database, IReadOnlyDictionary<string, string>? extra = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["WORKERS_RABBITMQ_URI"] = broker.ToString(),
            ["WORKERS_POSTGRES"] = database,
            ["Workers__ShutdownTimeout"] = "00:00:10",
            ["Sample__Payment__LatencyMs"] = "0",
            ["Urls"] = "http://127.0.0.1:0",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        return environment;
    }
}
