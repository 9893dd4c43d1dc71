using Workers.Resilience.Bulkhead;
using Xunit;

namespace Workers.Resilience.Tests.Bulkhead;

public sealed class ConsumerBulkheadTests : IDisposable
{
    private readonly BulkheadRegistry registry = new();

    public void Dispose() => registry.Dispose();

    private ConsumerBulkhead Create(int permits, int queue) => registry.GetOrAdd("orders", new BulkheadOptions { PermitLimit = permits, QueueLimit = queue });

    [Fact]
    public async Task PermitsThenQueueThenReject()
    {
        var bulkhead = Create(2, 1);
        var first = await bulkhead.AcquireAsync(CancellationToken.None);
        var second = await bulkhead.AcquireAsync(CancellationToken.None);
        var third = bulkhead.AcquireAsync(CancellationToken.None).AsTask();
        var fourth = await bulkhead.AcquireAsync(CancellationToken.None);

        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.False(third.IsCompleted);
        Assert.Null(fourth);
        Assert.Equal(new BulkheadSnapshot("orders", 2, 1, 2, 1, 1), registry.Find("orders"));

        first!.Complete();
        var admitted = await third.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.NotNull(admitted);
        Assert.Equal(new BulkheadSnapshot("orders", 2, 1, 2, 0, 1), registry.Find("orders"));
    }

    [Fact]
    public async Task CompletingALeaseTwice_ReleasesOnce()
    {
        var bulkhead = Create(1, 0);
        var lease = await bulkhead.AcquireAsync(CancellationToken.None);
        lease!.Complete();
        lease.Complete();
        Assert.Equal(0, bulkhead.InFlight);
    }

    [Fact]
    public async Task RaisingThePermitLimitAtRunTime_AdmitsWaiters()
    {
        var bulkhead = Create(1, 2);
        _ = await bulkhead.AcquireAsync(CancellationToken.None);
        var waiting1 = bulkhead.AcquireAsync(CancellationToken.None).AsTask();
        var waiting2 = bulkhead.AcquireAsync(CancellationToken.None).AsTask();

        Assert.True(registry.TrySetLimits("orders", 3));

        await Task.WhenAll(waiting1, waiting2).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(new BulkheadSnapshot("orders", 3, 2, 3, 0, 0), registry.Find("orders"));
    }

    [Fact]
    public async Task LoweringThePermitLimit_LetsRunningFinishAndAdmitsNobodyUntilBelow()
    {
        var bulkhead = Create(2, 1);
        var first = await bulkhead.AcquireAsync(CancellationToken.None);
        var second = await bulkhead.AcquireAsync(CancellationToken.None);
        var waiting = bulkhead.AcquireAsync(CancellationToken.None).AsTask();

        Assert.True(registry.TrySetLimits("orders", 1, 1));
        first!.Complete();
        Assert.False(waiting.IsCompleted);
        second!.Complete();

        Assert.NotNull(await waiting.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal(1, bulkhead.InFlight);
    }

    [Fact]
    public void InvalidRuntimeLimits_AreRefused_UnknownConsumerIsFalse()
    {
        Create(1, 0);
        Assert.Throws<ArgumentException>(() => registry.TrySetLimits("orders", 0));
        Assert.False(registry.TrySetLimits("nobody", 3));
    }

    [Fact]
    public async Task CancelledWaiter_LeavesTheQueue()
    {
        var bulkhead = Create(1, 1);
        var held = await bulkhead.AcquireAsync(CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var waiting = bulkhead.AcquireAsync(cts.Token).AsTask();

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, bulkhead.Waiting);
        held!.Complete();
        Assert.Equal(0, bulkhead.InFlight);
    }

    [Fact]
    public async Task DeferredLease_HoldsThePermitUntilTheRunawayReturns()
    {
        var bulkhead = Create(1, 0);
        var lease = await bulkhead.AcquireAsync(CancellationToken.None);
        var runaway = new TaskCompletionSource();

        lease!.DeferUntil(runaway.Task);
        lease.Complete();

        Assert.Equal(1, bulkhead.InFlight);
        Assert.Null(await bulkhead.AcquireAsync(CancellationToken.None));
        runaway.SetResult();
        Assert.Equal(0, bulkhead.InFlight);
    }

    [Fact]
    public void Options_ReportEveryError()
    {
        var errors = new BulkheadOptions { PermitLimit = 0, QueueLimit = -1 }.Validate("Workers:Consumers:Orders:Bulkhead");
        Assert.Equal(2, errors.Count);
        Assert.All(errors, e => Assert.StartsWith("Workers:Consumers:Orders:Bulkhead:", e, StringComparison.Ordinal));
        Assert.Empty(new BulkheadOptions().Validate());
    }
}
