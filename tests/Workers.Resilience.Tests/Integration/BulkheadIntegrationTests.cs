using System.Collections.Concurrent;
using System.Diagnostics;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Workers.Testing;
using Xunit;

namespace Workers.Resilience.Tests.Integration.Breakers;

public sealed record SlowMessage(int Id);

public sealed record FastMessage(int Id);

/// <summary>What the bulkhead consumers did, shared with the test.</summary>
public sealed class BulkheadProbe
{
    private int fastCount;
    private int fastTarget = int.MaxValue;
    private TaskCompletionSource fastDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource ReleaseSlow { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ConcurrentDictionary<int, int> SlowConsumed { get; } = new();

    public ConcurrentDictionary<int, int> FastConsumed { get; } = new();

    /// <summary>Resets the fast counter and returns a task completed when <paramref name="target"/> fast messages were consumed.</summary>
    public Task ExpectFast(int target)
    {
        FastConsumed.Clear();
        Volatile.Write(ref fastCount, 0);
        fastDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref fastTarget, target);
        return fastDone.Task;
    }

    public void Fast(int id)
    {
        FastConsumed.AddOrUpdate(id, 1, (_, n) => n + 1);
        if (Interlocked.Increment(ref fastCount) == Volatile.Read(ref fastTarget))
        {
            fastDone.TrySetResult();
        }
    }
}

/// <summary>Saturated on purpose: each message waits until the test releases them all.</summary>
public sealed class SlowConsumer(BulkheadProbe probe) : IConsumer<SlowMessage>
{
    public async Task Consume(ConsumeContext<SlowMessage> context)
    {
        await probe.ReleaseSlow.Task.WaitAsync(context.CancellationToken);
        probe.SlowConsumed.AddOrUpdate(context.Message.Id, 1, (_, n) => n + 1);
    }
}

public sealed class FastConsumer(BulkheadProbe probe) : IConsumer<FastMessage>
{
    public async Task Consume(ConsumeContext<FastMessage> context)
    {
        await Task.Yield();
        probe.Fast(context.Message.Id);
    }
}

/// <summary>Throughput is measured: these tests run alone, after the parallel ones, so that other test classes do not skew the ratio.</summary>
[CollectionDefinition(nameof(ThroughputCollection), DisableParallelization = true)]
public sealed class ThroughputCollection
{
}

[Collection(nameof(ThroughputCollection))]
public sealed class BulkheadIntegrationTests(RabbitMqTestVhost vhost, ITestOutputHelper output) : IClassFixture<RabbitMqTestVhost>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private static readonly string Slow = typeof(SlowConsumer).FullName!;

    private static async Task<TimeSpan> BestOfThreeAsync(BreakerTestBus bus, BulkheadProbe probe, int count, int offset, CancellationToken ct)
    {
        var best = TimeSpan.MaxValue;
        for (var run = 0; run < 3; run++)
        {
            var elapsed = await MeasureFastAsync(bus, probe, "bulkhead-fast", count, offset + (run * count), ct);
            best = elapsed < best ? elapsed : best;
        }

        return best;
    }

    private static async Task<TimeSpan> MeasureFastAsync(BreakerTestBus bus, BulkheadProbe probe, string queue, int count, int offset, CancellationToken ct)
    {
        var done = probe.ExpectFast(count);
        var watch = Stopwatch.StartNew();
        await bus.SendConcurrentlyAsync(queue, Enumerable.Range(offset, count).Select(i => new FastMessage(i)), ct);
        await done.WaitAsync(Wait, ct);
        return watch.Elapsed;
    }

    [Fact]
    public async Task SaturatedConsumer_DoesNotSlowAConsumerOnAnotherEndpoint()
    {
        var ct = TestContext.Current.CancellationToken;
        var probe = new BulkheadProbe();
        const int fast = 1500;
        await using var bus = await BreakerTestBus.StartAsync(
            vhost.Uri,
            s => s.AddSingleton(probe),
            x =>
            {
                x.AddConsumer<SlowConsumer>();
                x.AddConsumer<FastConsumer>();
            },
            (context, cfg) =>
            {
                cfg.ReceiveEndpoint("bulkhead-slow", e =>
                {
                    e.PrefetchCount = 4; // = PermitLimit + QueueLimit: the bulkhead never has to reject
                    e.UseBulkhead<SlowConsumer>(context, o => { o.PermitLimit = 2; o.QueueLimit = 2; });
                    e.ConfigureConsumer<SlowConsumer>(context);
                });
                cfg.ReceiveEndpoint("bulkhead-fast", e =>
                {
                    e.PrefetchCount = 16;
                    e.UseBulkhead<FastConsumer>(context, o => o.PermitLimit = 16);
                    e.ConfigureConsumer<FastConsumer>(context);
                });
            },
            ct);
        var bulkheads = bus.Services.GetRequiredService<BulkheadRegistry>();

        await MeasureFastAsync(bus, probe, "bulkhead-fast", 50, 0, ct); // warm-up
        // Best of three runs per phase: the machine is shared, the fastest run is the least disturbed one.
        var alone = await BestOfThreeAsync(bus, probe, fast, 10_000, ct);

        await bus.SendAsync("bulkhead-slow", Enumerable.Range(1, 40).Select(i => new SlowMessage(i)), ct);
        await BreakerTestBus.WaitUntilAsync(() => bulkheads.Find(Slow) is { InFlight: 2, Waiting: 2 }, Wait, "slow consumer saturated", ct);

        var beside = await BestOfThreeAsync(bus, probe, fast, 50_000, ct);

        Assert.Equal(fast, probe.FastConsumed.Count);
        Assert.True(bulkheads.Find(Slow) is { InFlight: 2, Waiting: 2 }, "the slow consumer stayed saturated during the measurement");
        Assert.Empty(probe.SlowConsumed);
        var ratio = (fast / beside.TotalSeconds) / (fast / alone.TotalSeconds);
        output.WriteLine($"fast consumer: alone {fast / alone.TotalSeconds:F0} msg/s, beside the saturated one {fast / beside.TotalSeconds:F0} msg/s, ratio {ratio:F2}");
        Assert.True(ratio >= 0.5, $"throughput ratio {ratio:F2} < 0.5");

        probe.ReleaseSlow.SetResult();
        await BreakerTestBus.WaitUntilAsync(() => probe.SlowConsumed.Count == 40, Wait, "slow messages consumed", ct);
        Assert.All(probe.SlowConsumed.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task SharedEndpoint_SaturatedConsumerMovesItsOverflowBack_TheOtherKeepsFlowing_AndLimitsChangeAtRunTime()
    {
        var ct = TestContext.Current.CancellationToken;
        var probe = new BulkheadProbe();
        const string queue = "bulkhead-shared";
        const int slow = 30;
        const int fast = 200;
        await using var bus = await BreakerTestBus.StartAsync(
            vhost.Uri,
            s => s.AddSingleton(probe),
            x =>
            {
                x.AddConsumer<SlowConsumer>();
                x.AddConsumer<FastConsumer>();
            },
            (context, cfg) => cfg.ReceiveEndpoint(queue, e =>
            {
                e.PrefetchCount = 16;
                e.UseBulkhead<SlowConsumer>(context, o => { o.PermitLimit = 2; o.QueueLimit = 2; o.Overflow = BulkheadOverflow.MoveToBack; });
                e.ConfigureConsumer<SlowConsumer>(context);
                e.ConfigureConsumer<FastConsumer>(context);
            }),
            ct);
        var bulkheads = bus.Services.GetRequiredService<BulkheadRegistry>();

        // The slow consumer's backlog is ahead of the fast messages in the same queue.
        await bus.SendAsync(queue, Enumerable.Range(1, slow).Select(i => new SlowMessage(i)), ct);
        await BreakerTestBus.WaitUntilAsync(() => bulkheads.Find(Slow) is { InFlight: 2, Waiting: 2 }, Wait, "slow consumer saturated", ct);
        var watch = Stopwatch.StartNew();
        var done = probe.ExpectFast(fast);
        await bus.SendAsync(queue, Enumerable.Range(1, fast).Select(i => new FastMessage(i)), ct);
        await done.WaitAsync(Wait, ct);
        output.WriteLine($"{fast} fast messages behind a saturated consumer's backlog on one queue: {watch.Elapsed.TotalMilliseconds:F0} ms; {bulkheads.Find(Slow)!.Rejected} overflow moves");

        Assert.True(bulkheads.Find(Slow) is { InFlight: 2, Waiting: 2, Rejected: > 0 }, "slow consumer still saturated and moving its overflow");
        Assert.Empty(probe.SlowConsumed);

        // Raise the limit at run time: more slow messages run at once, without a restart.
        Assert.True(bulkheads.TrySetLimits(Slow, permitLimit: 6, queueLimit: 2));
        await BreakerTestBus.WaitUntilAsync(() => bulkheads.Find(Slow) is { InFlight: 6, PermitLimit: 6 }, Wait, "six slow messages in flight", ct);

        probe.ReleaseSlow.SetResult();
        await BreakerTestBus.WaitUntilAsync(() => probe.SlowConsumed.Count == slow, Wait, "every slow message consumed", ct);
        await BreakerTestBus.WaitUntilAsync(async () => await bus.InspectQueueAsync(queue, ct) is { Ready: 0 }, Wait, "queue drained", ct);
        Assert.All(probe.SlowConsumed.Values, n => Assert.Equal(1, n));
        Assert.All(probe.FastConsumed.Values, n => Assert.Equal(1, n));
        Assert.Null(await bus.InspectQueueAsync(queue + "_error", ct));
    }

    [Fact]
    public async Task RequeueOverflow_ReturnsMessagesToTheQueue_WithoutFaultOrLoss()
    {
        var ct = TestContext.Current.CancellationToken;
        var probe = new BulkheadProbe();
        const string queue = "bulkhead-requeue";
        await using var bus = await BreakerTestBus.StartAsync(
            vhost.Uri,
            s => s.AddSingleton(probe),
            x => x.AddConsumer<SlowConsumer>(),
            (context, cfg) => cfg.ReceiveEndpoint(queue, e =>
            {
                e.PrefetchCount = 4; // larger than PermitLimit + QueueLimit: the overflow is nacked back
                e.UseBulkhead<SlowConsumer>(context, o => { o.PermitLimit = 1; o.QueueLimit = 0; o.Overflow = BulkheadOverflow.Requeue; });
                e.ConfigureConsumer<SlowConsumer>(context);
            }),
            ct);
        var bulkheads = bus.Services.GetRequiredService<BulkheadRegistry>();

        await bus.SendAsync(queue, Enumerable.Range(1, 5).Select(i => new SlowMessage(i)), ct);
        await BreakerTestBus.WaitUntilAsync(() => bulkheads.Find(Slow) is { InFlight: 1, Rejected: > 0 }, Wait, "overflow requeued", ct);

        // Not a busy loop: the three prefetch slots beside the running message each hold their overflow for the requeue
        // pause (1 s) before the nack, so 9 more requeues take at least 2 s — without the pause they took milliseconds.
        var before = bulkheads.Find(Slow)!.Rejected;
        var watch = Stopwatch.StartNew();
        await BreakerTestBus.WaitUntilAsync(() => bulkheads.Find(Slow)!.Rejected >= before + 9, Wait, "nine more requeues", ct);
        var elapsed = watch.Elapsed;
        output.WriteLine($"9 requeues of the overflow in {elapsed.TotalMilliseconds:F0} ms");
        Assert.True(elapsed >= TimeSpan.FromSeconds(1.9), $"9 requeues of 3 overflowing messages in {elapsed.TotalMilliseconds:F0} ms: the overflow cycles without the pause");
        Assert.Null(await bus.InspectQueueAsync(queue + "_error", ct));
        Assert.Empty(probe.SlowConsumed);

        probe.ReleaseSlow.SetResult();
        await BreakerTestBus.WaitUntilAsync(() => probe.SlowConsumed.Count == 5, Wait, "every message consumed", ct);
        await BreakerTestBus.WaitUntilAsync(async () => await bus.InspectQueueAsync(queue, ct) is { Ready: 0 }, Wait, "queue drained", ct);
        Assert.All(probe.SlowConsumed.Values, n => Assert.Equal(1, n));
        Assert.Null(await bus.InspectQueueAsync(queue + "_error", ct));
        output.WriteLine($"{bulkheads.Find(Slow)!.Rejected} requeues while the consumer was saturated");
    }
}
