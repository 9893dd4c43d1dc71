using Workers.Resilience.Redelivery;
using Xunit;

namespace Workers.Resilience.Tests.Redelivery;

public class RedeliveryDelayCalculatorTests
{
    [Theory]
    [InlineData(1, 200)]
    [InlineData(2, 400)]
    [InlineData(3, 800)]
    [InlineData(4, 1600)]
    [InlineData(5, 3200)]
    public void Exponential_DoublesFromDelay(int redelivery, int expectedMs)
    {
        var options = new RedeliveryOptions { Delay = TimeSpan.FromMilliseconds(200), MaxDelay = TimeSpan.FromMinutes(1) };

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), RedeliveryDelayCalculator.GetDelay(options, redelivery));
    }

    [Fact]
    public void Exponential_IsCappedByMaxDelay()
    {
        var options = new RedeliveryOptions { Delay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(5) };

        Assert.Equal(TimeSpan.FromSeconds(4), RedeliveryDelayCalculator.GetDelay(options, 3));
        Assert.Equal(TimeSpan.FromSeconds(5), RedeliveryDelayCalculator.GetDelay(options, 4));
        Assert.Equal(TimeSpan.FromSeconds(5), RedeliveryDelayCalculator.GetDelay(options, 100));
    }

    [Fact]
    public void HugeAttemptNumber_DoesNotOverflow()
    {
        var options = new RedeliveryOptions { Delay = TimeSpan.FromDays(1), MaxDelay = TimeSpan.FromDays(10) };

        Assert.Equal(TimeSpan.FromDays(10), RedeliveryDelayCalculator.GetDelay(options, int.MaxValue));
    }

    [Fact]
    public void Linear_GrowsByDelay()
    {
        var options = new RedeliveryOptions { Delay = TimeSpan.FromSeconds(2), MaxDelay = TimeSpan.FromSeconds(7), BackoffType = RedeliveryBackoffType.Linear };

        Assert.Equal(TimeSpan.FromSeconds(2), RedeliveryDelayCalculator.GetDelay(options, 1));
        Assert.Equal(TimeSpan.FromSeconds(6), RedeliveryDelayCalculator.GetDelay(options, 3));
        Assert.Equal(TimeSpan.FromSeconds(7), RedeliveryDelayCalculator.GetDelay(options, 4));
    }

    [Fact]
    public void Constant_AlwaysDelay()
    {
        var options = new RedeliveryOptions { Delay = TimeSpan.FromSeconds(3), BackoffType = RedeliveryBackoffType.Constant };

        Assert.All(Enumerable.Range(1, 10), n => Assert.Equal(TimeSpan.FromSeconds(3), RedeliveryDelayCalculator.GetDelay(options, n)));
    }

    [Theory]
    [InlineData(0.0, 3200)]
    [InlineData(0.5, 4000)]
    [InlineData(0.999999999, 4800)]
    public void Jitter_SpreadsOverPlusMinusTwentyPercent(double random, int expectedMs)
    {
        var options = new RedeliveryOptions { Delay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromMinutes(1), UseJitter = true };

        var delay = RedeliveryDelayCalculator.GetDelay(options, 3, random);

        Assert.InRange(delay.TotalMilliseconds, expectedMs - 0.01, expectedMs + 0.01);
    }

    [Fact]
    public void Jitter_StaysWithinBounds_AndVaries()
    {
        var options = new RedeliveryOptions { Delay = TimeSpan.FromMilliseconds(500), MaxDelay = TimeSpan.FromMinutes(1), UseJitter = true };
        var random = new Random(42);

        var delays = Enumerable.Range(0, 1000).Select(_ => RedeliveryDelayCalculator.GetDelay(options, 2, random.NextDouble())).ToList();

        Assert.All(delays, d => Assert.InRange(d, TimeSpan.FromMilliseconds(800), TimeSpan.FromMilliseconds(1200)));
        Assert.True(delays.Distinct().Count() > 900);
        Assert.InRange(delays.Average(d => d.TotalMilliseconds), 980, 1020);
    }

    [Fact]
    public void Jitter_IsAppliedBeforeTheCap()
    {
        var options = new RedeliveryOptions { Delay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(4), UseJitter = true };

        Assert.Equal(TimeSpan.FromSeconds(4), RedeliveryDelayCalculator.GetDelay(options, 3, 0.999));
        Assert.Equal(TimeSpan.FromSeconds(4), RedeliveryDelayCalculator.GetDelay(options, 10, 0.0));
    }

    [Fact]
    public void RedeliveryBelowOne_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RedeliveryDelayCalculator.GetDelay(new RedeliveryOptions(), 0));
    }
}
