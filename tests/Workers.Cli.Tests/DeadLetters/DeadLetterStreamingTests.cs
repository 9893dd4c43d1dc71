using System.Text.Json.Nodes;
using RabbitMQ.Client;
using Workers.Cli.Tests.Contracts;
using Workers.Cli.Tests.Support;
using Workers.Resilience;
using Workers.Testing;
using Xunit;

namespace Workers.Cli.Tests.DeadLetters;

/// <summary>
/// The dlq commands stream the dead-letter queue in batches: at most one batch is held unacknowledged, whatever the
/// queue's length, and every message stays (or moves) exactly once. Watched from the broker while the command runs.
/// </summary>
public sealed class DeadLetterStreamingTests(RabbitMqTestVhost vhost) : BrokerTestClass(vhost)
{
    /// <summary>The default <c>--batch</c>.</summary>
    private const int Batch = 500;

    /// <summary>Three batches.</summary>
    private const int Messages = 3 * Batch;

    [Fact]
    public async Task List_OfThreeBatches_HoldsAtMostOneBatch_AndKeepsEveryMessageInOrder()
    {
        var ids = await SeedAsync("stream-list", Messages);

        await using var watch = BrokerWatch.Start(Broker, Vhost, "stream-list_error");
        var listed = await CliRunner.RunAsync(Broker.Args("dlq", "list", "stream-list", "--json"), cancellationToken: TestContext.Current.CancellationToken);
        var (minReady, maxUnacked, samples) = await watch.StopAsync();

        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.Equal(ids, JsonNode.Parse(listed.Output)!.AsArray().Select(m => m!["messageId"]!.GetValue<string>()).ToList());
        Assert.True(samples > 0, "the broker was never sampled while the command ran");
        Assert.True(minReady >= Messages - Batch, $"the list held more than one batch: the ready count fell to {minReady} of {Messages} ({samples} samples)");
        Assert.True(maxUnacked <= Batch, $"the management API showed {maxUnacked} unacknowledged messages (batch {Batch})");
        Assert.Equal(ids, (await Broker.DrainAsync("stream-list_error")).Select(m => m.MessageId).ToList());
    }

    [Fact]
    public async Task Replay_OfThreeBatches_HoldsAtMostOneBatch_AndMovesEveryMessageOnce()
    {
        var ids = await SeedAsync("stream-replay", Messages);
        await Broker.DeclareQueueAsync("stream-replay");

        // Ready in _error plus ready in the target (no consumer) never falls below the messages minus one batch.
        await using var watch = BrokerWatch.Start(Broker, Vhost, "stream-replay_error", "stream-replay");
        var result = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "stream-replay"), cancellationToken: TestContext.Current.CancellationToken);
        var (minReady, maxUnacked, samples) = await watch.StopAsync();

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"matched {Messages}, replayed {Messages}, skipped 0, failed 0", result.Output, StringComparison.Ordinal);
        Assert.True(samples > 0, "the broker was never sampled while the command ran");
        Assert.True(minReady >= Messages - Batch, $"the replay held more than one batch: ready messages fell to {minReady} of {Messages} ({samples} samples)");
        Assert.True(maxUnacked <= Batch, $"the management API showed {maxUnacked} unacknowledged messages (batch {Batch})");
        Assert.Equal(ids, (await Broker.DrainAsync("stream-replay")).Select(m => m.MessageId).ToList());
        Assert.Equal(0u, await Broker.ReadyCountAsync("stream-replay_error"));
    }

    [Fact]
    public async Task SmallBatches_FilteredReplayAndPurge_KeepTheRestInOrder()
    {
        var ids = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            ids.Add(await Broker.PublishWorkersDeadLetterAsync("stream-small_error", "stream-small", i % 3 == 0 ? new PaymentCaptured { Number = i } : new OrderSubmitted { Number = i }, "System.TimeoutException", 2, DateTimeOffset.UtcNow));
        }

        await Broker.DeclareQueueAsync("stream-small");
        var payments = ids.Where((_, i) => i % 3 == 0).ToList();
        var orders = ids.Where((_, i) => i % 3 != 0).ToList();

        var dry = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "stream-small", "--type", typeof(PaymentCaptured).FullName!, "--dry-run", "--batch", "7"), cancellationToken: TestContext.Current.CancellationToken);
        var replay = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "stream-small", "--type", typeof(PaymentCaptured).FullName!, "--max", "6", "--batch", "4"), cancellationToken: TestContext.Current.CancellationToken);
        var show = await CliRunner.RunAsync(Broker.Args("dlq", "show", "stream-small", orders[^1], "--batch", "3"), cancellationToken: TestContext.Current.CancellationToken);
        var purge = await CliRunner.RunAsync(Broker.Args("dlq", "purge", "stream-small", "--id", orders[0], orders[10], "--yes", "--batch", "5"), cancellationToken: TestContext.Current.CancellationToken);
        var zero = await CliRunner.RunAsync(Broker.Args("dlq", "list", "stream-small", "--batch", "0"), cancellationToken: TestContext.Current.CancellationToken);
        var huge = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "stream-small", "--batch", "10001"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(dry.ExitCode == 0, dry.ToString());
        Assert.Contains("dry run: matched 10, would replay 10", dry.Output, StringComparison.Ordinal);
        Assert.True(replay.ExitCode == 0, replay.ToString());
        Assert.Contains("matched 6, replayed 6, skipped 0, failed 0", replay.Output, StringComparison.Ordinal);
        Assert.True(show.ExitCode == 0, show.ToString());
        Assert.Contains($"message-id:       {orders[^1]}", show.Output, StringComparison.Ordinal);
        Assert.True(purge.ExitCode == 0, purge.ToString());
        Assert.Contains("purged 2 message(s)", purge.Output, StringComparison.Ordinal);
        Assert.Equal(2, zero.ExitCode);
        Assert.Contains("--batch must be between 1 and 10000", zero.Error, StringComparison.Ordinal);
        Assert.Equal(2, huge.ExitCode);
        Assert.Equal(payments.Take(6), (await Broker.DrainAsync("stream-small")).Select(m => m.MessageId));
        var left = ids.Except(payments.Take(6)).Except([orders[0], orders[10]]).ToList();
        Assert.Equal(left, (await Broker.DrainAsync("stream-small_error")).Select(m => m.MessageId).ToList());
    }

    [Fact]
    public async Task QuorumErrorQueue_ListShowAndDryRun_ConsumeNoDelivery()
    {
        await Broker.DeclareQueueAsync("stream-quorum_error", new Dictionary<string, object?> { ["x-queue-type"] = "quorum" });
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var id = Guid.NewGuid().ToString();
            ids.Add(id);
            await Broker.PublishRawAsync("stream-quorum_error", id, "application/json", """{"number":1}"""u8.ToArray(), new Dictionary<string, object?> { [WorkersHeaders.FaultQueue] = "stream-quorum", ["custom"] = "kept" });
        }

        for (var i = 0; i < 3; i++)
        {
            var list = await CliRunner.RunAsync(Broker.Args("dlq", "list", "stream-quorum", "--batch", "2"), cancellationToken: TestContext.Current.CancellationToken);
            Assert.True(list.ExitCode == 0, list.ToString());
        }

        var show = await CliRunner.RunAsync(Broker.Args("dlq", "show", "stream-quorum", ids[2]), cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(show.ExitCode == 0, show.ToString());

        // A read that returns a message to a quorum queue counts a delivery (x-delivery-count, the delivery limit); a kept
        // message is a confirmed copy instead, so after five reads each is delivered here for the first time.
        var drained = await Broker.DrainAsync("stream-quorum_error");
        Assert.Equal(ids, drained.Select(m => m.MessageId).ToList());
        Assert.All(drained, m => Assert.False(m.Headers.TryGetValue("x-delivery-count", out var count) && count != "0", $"x-delivery-count {count} on {m.MessageId}"));
        Assert.All(drained, m => Assert.Equal("kept", m.Headers["custom"]));
    }

    private async Task<List<string>> SeedAsync(string queue, int count)
    {
        await Broker.DeclareQueueAsync(queue + "_error");
        var seeded = await CliRunner.RunAsync(Broker.Args("publish", queue + "_error", "--type", typeof(OrderSubmitted).FullName!, "--body", "{\"number\":1}", "--count", count.ToString(System.Globalization.CultureInfo.InvariantCulture), "--header", "Workers-Fault-Queue=" + queue), cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(seeded.ExitCode == 0, seeded.ToString());
        var ids = await Broker.PeekIdsAsync(queue + "_error");
        Assert.Equal(count, ids.Count);
        return ids;
    }

    /// <summary>
    /// Samples the broker while a command runs: the sum of the ready counts of some queues (exact, AMQP passive declares)
    /// and the unacknowledged count of the first one (the management API's figure, refreshed every few seconds).
    /// </summary>
    private sealed class BrokerWatch : IAsyncDisposable
    {
        private readonly CancellationTokenSource stop = new();
        private readonly Task<(long MinReady, long MaxUnacked, int Samples)> sampling;

        private BrokerWatch(Func<CancellationToken, Task<(long, long, int)>> sample) => sampling = sample(stop.Token);

        public static BrokerWatch Start(TestBroker broker, RabbitMqTestVhost vhost, params string[] queues) => new(async token =>
        {
            long minReady = long.MaxValue, maxUnacked = 0;
            var samples = 0;
            var management = $"api/queues/{Uri.EscapeDataString(vhost.Name)}/{Uri.EscapeDataString(queues[0])}";
            var lastManagement = DateTime.MinValue;
            while (!token.IsCancellationRequested)
            {
                long ready = 0;
                foreach (var queue in queues)
                {
                    ready += await broker.CountOrZeroAsync(queue);
                }

                minReady = Math.Min(minReady, ready);
                samples++;
                if (DateTime.UtcNow - lastManagement > TimeSpan.FromMilliseconds(250))
                {
                    lastManagement = DateTime.UtcNow;
                    var body = await vhost.Management.GetStringAsync(management, CancellationToken.None);
                    maxUnacked = Math.Max(maxUnacked, JsonNode.Parse(body)?["messages_unacknowledged"]?.GetValue<long>() ?? 0);
                }

                await Task.Delay(5, CancellationToken.None);
            }

            return (minReady, maxUnacked, samples);
        });

        public async Task<(long MinReady, long MaxUnacked, int Samples)> StopAsync()
        {
            await stop.CancelAsync();
            return await sampling;
        }

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            try
            {
                await sampling;
            }
            catch (Exception exception) when (exception is OperationCanceledException or HttpRequestException)
            {
                // Already reported by StopAsync, or the test failed before it.
            }

            stop.Dispose();
        }
    }
}
