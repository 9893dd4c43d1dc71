namespace Workers.Benchmarks.Infrastructure;

/// <summary>Where the services are: the same <c>WORKERS_*</c> variables as the tests, defaulting to <c>scripts/services.sh</c>.</summary>
internal static class BenchEnvironment
{
    public static Uri RabbitMq { get; } = new(Get("WORKERS_RABBITMQ_URI") ?? "amqp://guest:guest@127.0.0.1:5673/");

    public static Uri RabbitMqManagement { get; } = new(Get("WORKERS_RABBITMQ_MANAGEMENT_URI") ?? $"http://{RabbitMq.UserInfo}@{RabbitMq.Host}:{RabbitMq.Port + 10000}/");

    public static string Postgres { get; } = Get("WORKERS_POSTGRES") ?? "Host=127.0.0.1;Port=55432;Username=postgres;Database=workers";

    private static string? Get(string name)
    {
        var value = Environment.GetEnvironmentVariable(name);
        return string.IsNullOrWhiteSpace(value) ? null : value;
    }
}
