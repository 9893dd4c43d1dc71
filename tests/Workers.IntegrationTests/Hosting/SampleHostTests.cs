using System.Diagnostics;
using MassTransit;
using Npgsql;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Workers.Sample;
using Workers.Sample.Contracts;
using Workers.Sample.Orders;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Hosting;

/// <summary>The sample worker service on a real broker: consumption, graceful shutdown, bad configuration.</summary>
public sealed class SampleHostTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task PublishedOrders_AreEachConsumedExactlyOnce()
    {
        await using var vhost = new RabbitMqTestVhost();
        await vhost.InitializeAsync();
        await using var database = new PostgresTestDatabase();
        await database.InitializeAsync();
        var ledger = new OrderLedger();
        using var host = BuildHost(vhost.Uri, database.ConnectionString, ledger, new() { ["Sample:Payment:LatencyMs"] = "0" });
        await host.StartAsync(TestContext.Current.CancellationToken);

        var orders = Orders(500);
        var bus = host.Services.GetRequiredService<IBus>();
        await Task.WhenAll(orders.Select(o => bus.Publish(o, TestContext.Current.CancellationToken)));
        await Eventually.HoldsAsync(() => ledger.NotifiedOrders.Count == orders.Count && ledger.AcceptedOrders.Count == orders.Count, Bound, "all orders accepted and notified", TestContext.Current.CancellationToken);
        await host.StopAsync(TestContext.Current.CancellationToken);

        Assert.All(orders, o => Assert.Equal(1, ledger.AcceptedOrders[o.OrderId]));
        Assert.All(orders, o => Assert.Equal(1, ledger.NotifiedOrders[o.OrderId]));
        Assert.Equal(orders.Count, ledger.AcceptedTotal);
        var effects = await EffectCounts(database.ConnectionString);
        Assert.All(orders, o => Assert.Equal((1, 1), (effects[(o.OrderId, "accepted")], effects[(o.OrderId, "notified")])));
        Assert.Equal(0u, await vhost.CountReadyAsync(SampleHost.OrdersQueue, TestContext.Current.CancellationToken));
        Assert.Equal(0u, await vhost.CountReadyAsync(SampleHost.OrdersQueue + "_error", TestContext.Current.CancellationToken) ?? 0u);
    }

    [Fact]
    public async Task GracefulShutdown_UnderLoad_LosesNothing_AndAcksNothingUnprocessed()
    {
        await using var vhost = new RabbitMqTestVhost();
        await vhost.InitializeAsync();
        await using var database = new PostgresTestDatabase();
        await database.InitializeAsync();
        var ledger = new OrderLedger();
        var settings = new Dictionary<string, string?>
        {
            ["Sample:Payment:LatencyMs"] = "20",
            ["Workers:Endpoints:submit-order:PrefetchCount"] = "16",
            ["Workers:Endpoints:submit-order:ConcurrentMessageLimit"] = "8",
        };
        var orders = Orders(300);

        using (var first = BuildHost(vhost.Uri, database.ConnectionString, ledger, settings))
        {
            await first.StartAsync(TestContext.Current.CancellationToken);
            var bus = first.Services.GetRequiredService<IBus>();
            await Task.WhenAll(orders.Select(o => bus.Publish(o, TestContext.Current.CancellationToken)));
            await Eventually.HoldsAsync(() => ledger.AcceptedOrders.Count >= 60, Bound, "a fifth of the orders accepted", TestContext.Current.CancellationToken);
            await first.StopAsync(TestContext.Current.CancellationToken);
        }

        var acceptedBeforeRestart = ledger.AcceptedOrders.Count;
        Assert.True(acceptedBeforeRestart < orders.Count, $"the stop must land mid-stream (accepted {acceptedBeforeRestart} of {orders.Count})");
        // Every order not accepted is back in the queue, ready: none lost, none acknowledged unprocessed.
        await vhost.WaitForReadyCountAsync(SampleHost.OrdersQueue, (uint)(orders.Count - acceptedBeforeRestart), TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        using (var second = BuildHost(vhost.Uri, database.ConnectionString, ledger, settings))
        {
            await second.StartAsync(TestContext.Current.CancellationToken);
            await Eventually.HoldsAsync(() => ledger.AcceptedOrders.Count == orders.Count, Bound, "every order accepted after the restart", TestContext.Current.CancellationToken);
            await second.StopAsync(TestContext.Current.CancellationToken);
        }

        Assert.All(orders, o => Assert.Equal(1, ledger.AcceptedOrders[o.OrderId]));
        Assert.Equal(orders.Count, ledger.AcceptedTotal);
        var effects = await EffectCounts(database.ConnectionString);
        Assert.All(orders, o => Assert.Equal(1, effects[(o.OrderId, "accepted")]));
        Assert.Equal(0u, await vhost.CountReadyAsync(SampleHost.OrdersQueue + "_error", TestContext.Current.CancellationToken) ?? 0u);
        Assert.Equal(0u, await vhost.CountReadyAsync(SampleHost.OrdersQueue, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task BadConfiguration_FailsFastAtStart_NamingEveryError()
    {
        var ledger = new OrderLedger();
        using var host = BuildHost(new Uri("amqp://guest:guest@127.0.0.1:1/"), "Host=127.0.0.1;Port=1", ledger, new()
        {
            ["Workers:RabbitMq:Uri"] = "not a uri",
            ["Workers:ShutdownTimeout"] = "00:00:00",
            ["Workers:Endpoints:submit-order:PrefetchCount"] = "0",
            ["Sample:Payment:FailureRate"] = "2",
        });

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"start must fail fast (took {clock.Elapsed})");
        Assert.Contains("Workers:RabbitMq:Uri", error.Message, StringComparison.Ordinal);
        Assert.Contains("Workers:ShutdownTimeout", error.Message, StringComparison.Ordinal);
        Assert.Contains("Workers:Endpoints:submit-order:PrefetchCount", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QuorumEndpoint_IsDeclaredAsQuorumQueue()
    {
        await using var vhost = new RabbitMqTestVhost();
        await vhost.InitializeAsync();
        await using var database = new PostgresTestDatabase();
        await database.InitializeAsync();
        using var host = BuildHost(vhost.Uri, database.ConnectionString, new OrderLedger(), new() { ["Workers:Endpoints:submit-order:QueueType"] = "Quorum" });
        await host.StartAsync(TestContext.Current.CancellationToken);
        await host.StopAsync(TestContext.Current.CancellationToken);

        var queue = await vhost.GetQueueAsync(SampleHost.OrdersQueue, TestContext.Current.CancellationToken);
        Assert.Equal("quorum", queue?.Type);
        Assert.Equal("classic", (await vhost.GetQueueAsync(SampleHost.NotificationsQueue, TestContext.Current.CancellationToken))?.Type);
    }

    private static IHost BuildHost(Uri broker, string database, OrderLedger ledger, Dictionary<string, string?> settings) =>
        SampleTestHost.Build(broker, database, ledger, settings);

    // The consumers' effects in the database: (order, kind) → how many times applied.
    private static async Task<Dictionary<(Guid, string), int>> EffectCounts(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new NpgsqlCommand("select order_id, kind, count(*)::int from sample_effects group by order_id, kind", connection);
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        var counts = new Dictionary<(Guid, string), int>();
        while (await reader.ReadAsync(TestContext.Current.CancellationToken))
        {
            counts[(reader.GetGuid(0), reader.GetString(1))] = reader.GetInt32(2);
        }

        return counts;
    }

    private static List<SubmitOrder> Orders(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new SubmitOrder(Guid.NewGuid(), $"customer-{i}", 10m + i))];

}
