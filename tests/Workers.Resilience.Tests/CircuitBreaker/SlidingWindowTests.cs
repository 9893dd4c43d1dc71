using Workers.Resilience.CircuitBreaker;
using Xunit;

namespace Workers.Resilience.Tests.CircuitBreaker;

public sealed class SlidingWindowTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Outcomes_AreCountedWithinTheWindow()
    {
        var window = new SlidingWindow(TimeSpan.FromSeconds(10));
        window.RecordSuccess(Start);
        window.RecordFailure(Start.AddSeconds(3));
        window.RecordFailure(Start.AddSeconds(8.9));
        Assert.Equal((1, 2), window.Totals(Start.AddSeconds(9)));
    }

    [Fact]
    public void Outcomes_ExpireBucketByBucket()
    {
        var window = new SlidingWindow(TimeSpan.FromSeconds(10));
        window.RecordFailure(Start);
        window.RecordFailure(Start.AddSeconds(5));
        Assert.Equal((0, 2), window.Totals(Start.AddSeconds(9.9)));
        Assert.Equal((0, 1), window.Totals(Start.AddSeconds(10)));
        Assert.Equal((0, 0), window.Totals(Start.AddSeconds(15)));
    }

    [Fact]
    public void ReusedBucket_ForgetsItsOldCounts()
    {
        var window = new SlidingWindow(TimeSpan.FromSeconds(10));
        window.RecordFailure(Start);
        window.RecordSuccess(Start.AddSeconds(20));
        Assert.Equal((1, 0), window.Totals(Start.AddSeconds(20)));
    }

    [Fact]
    public void Reset_ForgetsEverything()
    {
        var window = new SlidingWindow(TimeSpan.FromSeconds(10));
        window.RecordFailure(Start);
        window.Reset();
        Assert.Equal((0, 0), window.Totals(Start));
    }
}
