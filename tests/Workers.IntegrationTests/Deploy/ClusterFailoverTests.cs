using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Serialization;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Workers.Sample.Contracts;
using Workers.Sample.Orders;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Deploy;

/// <summary>
/// The compose topology's broker on this machine: a private 3-node cluster (scripts/services.sh cluster-up).
/// Quorum queues replicate to every node and survive the loss of one; the sample workers, configured as in
/// compose (URI on one node, the other two as ClusterNodes, quorum endpoints), keep consuming when their node stops.
/// </summary>
[Collection(LocalRabbitMqClusterCollection.Name)]
public sealed class ClusterFailoverTests(LocalRabbitMqCluster cluster, PostgresTestDatabase database) : IClassFixture<PostgresTestDatabase>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task QuorumQueue_ReplicatesToAllThreeNodes_AndServesEveryMessageAfterItsLeaderStops()
    {
        var ct = TestContext.Current.CancellationToken;
        var vhost = await cluster.CreateVhostAsync(ct);
        const string queue = "replicated";
        const int count = 200;

        using (var connection = await Connect(1, vhost, ct))
        {
            await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, new Dictionary<string, object?> { ["x-queue-type"] = "quorum" }, cancellationToken: ct);
            var properties = new BasicProperties { Persistent = true };
            for (var i = 0; i < count; i++)
            {
                // Returns once the broker confirmed the message (a quorum queue confirms after a majority wrote it).
                await channel.BasicPublishAsync(string.Empty, queue, mandatory: true, properties, BitConverter.GetBytes(i), ct);
            }
        }

        var info = await WaitForQueueAsync(vhost, queue, q => q.Members?.Count == LocalRabbitMqCluster.NodeCount && q.Online?.Count == LocalRabbitMqCluster.NodeCount, ct);
        Assert.Equal("quorum", info.Type);
        var expectedNodes = Enumerable.Range(1, LocalRabbitMqCluster.NodeCount).Select(cluster.NodeName).Order().ToList();
        Assert.Equal(expectedNodes, info.Members!.Order().ToList());

        var leader = Enumerable.Range(1, LocalRabbitMqCluster.NodeCount).Single(n => cluster.NodeName(n) == info.Leader);
        var survivor = leader == 1 ? 2 : 1;
        await cluster.StopNodeAsync(leader, ct);
        try
        {
            // A new leader is elected among the two remaining members; every confirmed message is still there.
            var received = new HashSet<int>();
            var clock = Stopwatch.StartNew();
            Exception? last = null;
            while (received.Count < count)
            {
                Assert.True(clock.Elapsed < Bound, $"only {received.Count} of {count} messages read back within {Bound} from r{survivor} (leader r{leader} stopped); last error: {last}");
                try
                {
                    // A fresh connection per attempt: while the queue has no leader the broker answers 541, which closes the connection.
                    using var connection = await Connect(survivor, vhost, ct);
                    await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
                    while (await channel.BasicGetAsync(queue, autoAck: true, ct) is { } message)
                    {
                        received.Add(BitConverter.ToInt32(message.Body.Span));
                    }
                }
                catch (Exception exception) when (exception is OperationInterruptedException or AlreadyClosedException)
                {
                    // The queue is between leaders for a moment.
                    last = exception;
                }

                if (received.Count < count)
                {
                    await Task.Delay(200, ct);
                }
            }

            Assert.Equal(Enumerable.Range(0, count), received.Order());
        }
        finally
        {
            await cluster.StartNodeAsync(leader, ct);
        }

        await Eventually.HoldsAsync(async () => (await cluster.RunningNodesAsync(ct)).Count == LocalRabbitMqCluster.NodeCount, Bound, "all three nodes running again", TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task SampleWorkers_LoseTheirNodeMidLoad_ReconnectOnTheirOwn_AndConsumeEveryOrder()
    {
        var ct = TestContext.Current.CancellationToken;
        var vhost = await cluster.CreateVhostAsync(ct);
        var ledger = new OrderLedger();
        var clock = Stopwatch.StartNew();
        using var host = ClusterSampleHost.Build(LocalRabbitMqCluster.AmqpUri(1, vhost), database, ledger, new Dictionary<string, string?>
        {
            ["Workers:Endpoints:submit-order:PrefetchCount"] = "8",
            ["Workers:Endpoints:submit-order:ConcurrentMessageLimit"] = "2",
            ["Workers:ShutdownTimeout"] = "00:00:10",
            // About 30 orders a second: the node stops (rabbitmqctl takes up to several seconds on a busy machine)
            // with hundreds of orders still queued.
            ["Sample:Payment:LatencyMs"] = "60",
        });
        await host.StartAsync(ct);
        // The node the workers are connected to (the management API lists connections after a few seconds).
        var node = await ClusterSampleHost.ConnectedNodeAsync(cluster, vhost, Bound, ct);

        var orders = Enumerable.Range(0, 600).Select(i => new SubmitOrder(Guid.NewGuid(), $"customer-{i}", 10m + i)).ToList();
        var bus = host.Services.GetRequiredService<IBus>();
        await Task.WhenAll(orders.Select(o => bus.Publish(o, ct)));
        await Eventually.HoldsAsync(() => Task.FromResult(ledger.AcceptedOrders.Count >= 60), Bound, "a tenth of the orders accepted", TestContext.Current.CancellationToken);

        // Stop the node the workers are connected to, mid-load.
        var acceptedAtStop = ledger.AcceptedOrders.Count;
        await cluster.StopNodeAsync(node, ct);
        var stoppedAt = clock.Elapsed;
        var acceptedAfterStop = ledger.AcceptedOrders.Count;
        try
        {
            Assert.True(acceptedAfterStop <= orders.Count - 100, $"the node must stop while orders are still waiting ({acceptedAfterStop} of {orders.Count} accepted when it stopped)");
            await Eventually.HoldsAsync(
                () => Task.FromResult(orders.All(o => ledger.AcceptedOrders.ContainsKey(o.OrderId)) && orders.All(o => ledger.NotifiedOrders.ContainsKey(o.OrderId))), Bound, "every order accepted and notified after the node stopped", TestContext.Current.CancellationToken);
        }
        finally
        {
            await host.StopAsync(ct);
            await cluster.StartNodeAsync(node, ct);
        }

        // None lost; a message in flight on the lost connection may run again (at-least-once): count those.
        var allDoneAfterStop = clock.Elapsed - stoppedAt;
        var duplicates = orders.Sum(o => ledger.AcceptedOrders[o.OrderId] - 1);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"stopped r{node} after {acceptedAtStop} of {orders.Count} accepted ({acceptedAfterStop} when the stop returned); all accepted and notified {allDoneAfterStop.TotalSeconds:F1} s after the stop; duplicates {duplicates}; total {clock.Elapsed.TotalSeconds:F1} s");
        Assert.All(orders, o => Assert.True(ledger.AcceptedOrders[o.OrderId] >= 1));
        // Redelivered at most once each, and only what was in flight: the endpoint's prefetch bounds it.
        Assert.InRange(duplicates, 0, 16);
        Assert.True(clock.Elapsed < Bound, $"the whole run took {clock.Elapsed}");
        await Eventually.HoldsAsync(async () => (await cluster.RunningNodesAsync(ct)).Count == LocalRabbitMqCluster.NodeCount, Bound, "all three nodes running again", TestContext.Current.CancellationToken);
    }

    private static async Task<QueueInfo> WaitForQueueAsync(string vhost, string queue, Func<QueueInfo, bool> condition, CancellationToken ct)
    {
        QueueInfo? info = null;
        await Eventually.HoldsAsync(async () =>
        {
            using var management = LocalRabbitMqCluster.Management(1);
            info = await management.GetFromJsonAsync<QueueInfo>($"api/queues/{Uri.EscapeDataString(vhost)}/{Uri.EscapeDataString(queue)}", ct);
            return info is not null && condition(info);
        }, Bound, $"queue {queue} replicated to every node", ct);
        return info!;
    }

    private static Task<IConnection> Connect(int node, string vhost, CancellationToken ct) =>
        new ConnectionFactory { Uri = LocalRabbitMqCluster.AmqpUri(node, vhost), AutomaticRecoveryEnabled = false, ClientProvidedName = "workers-cluster-tests" }.CreateConnectionAsync(ct);

    private sealed record QueueInfo(
        [property: JsonPropertyName("type")] string? Type,
        [property: JsonPropertyName("leader")] string? Leader,
        [property: JsonPropertyName("members")] List<string>? Members,
        [property: JsonPropertyName("online")] List<string>? Online);
}
