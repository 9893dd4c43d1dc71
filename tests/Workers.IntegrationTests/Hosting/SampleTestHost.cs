using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Workers.Sample;
using Workers.Sample.Orders;

namespace Workers.IntegrationTests.Hosting;

/// <summary>The sample worker service in process, on a test broker and database, with its settings overridden.</summary>
internal static class SampleTestHost
{
    public static IHost Build(Uri broker, string database, OrderLedger ledger, Dictionary<string, string?> settings, ILoggerProvider? logs = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Testing" });
        var configuration = new Dictionary<string, string?>
        {
            ["Workers:RabbitMq:Uri"] = broker.ToString(),
            ["Workers:Postgres:ConnectionString"] = database,
            ["Workers:ShutdownTimeout"] = "00:00:20",
        };
        foreach (var (key, value) in settings)
        {
            configuration[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(configuration);
        builder.Services.AddSingleton(ledger);
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }

        builder.AddSample();
        return builder.Build();
    }
}
