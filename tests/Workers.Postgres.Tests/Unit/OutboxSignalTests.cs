using Microsoft.Extensions.Time.Testing;
using Workers.Postgres.Outbox;
using Workers.Postgres.Tests.Support;
using Xunit;

namespace Workers.Postgres.Tests.Unit;

public sealed class OutboxSignalTests
{
    [Fact]
    public async Task SetBeforeWait_WakesImmediatelyOnce()
    {
        var signal = new OutboxSignal();
        var time = new FakeTimeProvider();
        signal.Set();

        Assert.True(await signal.WaitAsync(TimeSpan.FromMinutes(1), time, TestContext.Current.CancellationToken));
        var second = signal.WaitAsync(TimeSpan.FromMinutes(1), time, TestContext.Current.CancellationToken);
        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(await second);
    }

    [Fact]
    public async Task SetWhileWaiting_WakesTheWaiter()
    {
        var signal = new OutboxSignal();
        var waiting = signal.WaitAsync(TimeSpan.FromMinutes(1), new FakeTimeProvider(), TestContext.Current.CancellationToken);

        signal.Set();

        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));
    }

    [Fact]
    public void StagedRows_GetStrictlyIncreasingTimestampsEvenWithAFrozenClock()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var stamps = Enumerable.Range(0, 100).Select(_ => WorkersOutbox<TestDb>.MonotonicNow(time)).ToList();

        Assert.Equal(stamps.Order(), stamps);
        Assert.Equal(100, stamps.Distinct().Count());
        Assert.All(stamps, s => Assert.Equal(0, s.Ticks % 10)); // microsecond resolution, as PostgreSQL stores it
    }
}
