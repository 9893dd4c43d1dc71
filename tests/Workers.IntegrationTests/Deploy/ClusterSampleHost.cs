using System.Net.Http.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Workers.Sample;
using Workers.Sample.Orders;
using Workers.Testing;

namespace Workers.IntegrationTests.Deploy;

/// <summary>The sample worker host configured as compose runs it, against the private 3-node cluster.</summary>
internal static class ClusterSampleHost
{
    /// <summary>
    /// Builds (does not start) the sample host: <paramref name="rabbitMq"/> on node 1 with the two other nodes as
    /// cluster nodes, quorum endpoints, the class's database; <paramref name="overrides"/> add or replace settings.
    /// When <paramref name="logs"/> is given it is the only log provider and records every level.
    /// </summary>
    public static IHost Build(Uri rabbitMq, PostgresTestDatabase database, OrderLedger ledger, IReadOnlyDictionary<string, string?> overrides, ILoggerProvider? logs = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Workers:RabbitMq:Uri"] = rabbitMq.ToString(),
            ["Workers:Postgres:ConnectionString"] = database.ConnectionString,
            ["Workers:RabbitMq:ClusterNodes:0"] = LocalRabbitMqCluster.Endpoint(2),
            ["Workers:RabbitMq:ClusterNodes:1"] = LocalRabbitMqCluster.Endpoint(3),
            ["Workers:Endpoints:submit-order:QueueType"] = "Quorum",
            ["Workers:Endpoints:order-accepted:QueueType"] = "Quorum",
        };
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(settings);
        if (logs is not null)
        {
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Trace);
            builder.Logging.AddProvider(logs);
        }

        builder.Services.AddSingleton(ledger);
        builder.AddSample();
        return builder.Build();
    }

    /// <summary>The node (1-based) the host's connection in <paramref name="vhost"/> is on, as the management API lists it.</summary>
    public static async Task<int> ConnectedNodeAsync(LocalRabbitMqCluster cluster, string vhost, TimeSpan bound, CancellationToken ct)
    {
        List<ConnectionInfo> connections = [];
        // The management API lists a connection once the broker has emitted its statistics (every few seconds).
        await Eventually.HoldsAsync(async () =>
        {
            using var management = LocalRabbitMqCluster.Management(1);
            connections = await management.GetFromJsonAsync<List<ConnectionInfo>>($"api/vhosts/{Uri.EscapeDataString(vhost)}/connections", ct) ?? [];
            return connections.Count > 0;
        }, bound, "the workers' connection listed", ct);
        return Enumerable.Range(1, LocalRabbitMqCluster.NodeCount).Single(n => cluster.NodeName(n) == connections[0].Node);
    }

    private sealed record ConnectionInfo([property: JsonPropertyName("name")] string Name, [property: JsonPropertyName("node")] string Node);
}
