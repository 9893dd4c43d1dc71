using Workers.Resilience.Redelivery;
using Xunit;

namespace Workers.Resilience.Tests.Redelivery;

public class DelayLadderTests
{
    [Fact]
    public void RoutingKey_IsBinaryDelayInUnits_LevelZeroFirst()
    {
        var key = DelayLadder.RoutingKey(TimeSpan.FromMilliseconds(500)); // 5 units = 101b

        var words = key.Split('.');
        Assert.Equal(DelayLadder.Levels, words.Length);
        Assert.Equal(["1", "0", "1"], words[..3]);
        Assert.All(words[3..], w => Assert.Equal("0", w));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(100, 1)]
    [InlineData(101, 2)]
    [InlineData(200, 2)]
    [InlineData(0, 1)]
    public void ToUnits_RoundsUp_AtLeastOne(int milliseconds, long expected)
    {
        Assert.Equal(expected, DelayLadder.ToUnits(TimeSpan.FromMilliseconds(milliseconds)));
    }

    [Fact]
    public void ToUnits_IsCappedAtTheLadderMaximum()
    {
        Assert.Equal((1L << DelayLadder.Levels) - 1, DelayLadder.ToUnits(TimeSpan.FromDays(365)));
        Assert.Equal(DelayLadder.MaxDelay, DelayLadder.Effective(TimeSpan.FromDays(365)));
    }

    [Theory]
    [InlineData(100, "workers.delay.L00")]
    [InlineData(200, "workers.delay.L01")]
    [InlineData(300, "workers.delay.L01")]
    [InlineData(12_800, "workers.delay.L07")]
    public void EntryExchange_IsTheHighestSetBit(int milliseconds, string expected)
    {
        Assert.Equal(expected, DelayLadder.EntryExchange(TimeSpan.FromMilliseconds(milliseconds)));
    }

    [Fact]
    public void Topology_NamesAndTtls()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(100), DelayLadder.LevelTtl(0));
        Assert.Equal(TimeSpan.FromMilliseconds(100 << 10), DelayLadder.LevelTtl(10));
        Assert.Equal(DelayLadder.DeliveryExchange, DelayLadder.NextExchange(0));
        Assert.Equal("workers.delay.L04", DelayLadder.NextExchange(5));
        Assert.Equal("1.#", DelayLadder.BindingPattern(0, true));
        Assert.Equal("*.*.0.#", DelayLadder.BindingPattern(2, false));
        Assert.Equal(string.Concat(Enumerable.Repeat("*.", DelayLadder.Levels - 1)) + "1", DelayLadder.BindingPattern(DelayLadder.Levels - 1, true));
    }

    // Simulates the broker's routing through the ladder (topic matching of the declared bindings) and adds up the TTLs.
    [Theory]
    [InlineData(100)]
    [InlineData(200)]
    [InlineData(700)]
    [InlineData(1_000)]
    [InlineData(123_456)]
    [InlineData(86_400_000)]
    public void Routing_ThroughTheLadder_AddsUpToTheEffectiveDelay(long milliseconds)
    {
        var delay = TimeSpan.FromMilliseconds(milliseconds);
        var key = DelayLadder.RoutingKey(delay);
        var exchange = DelayLadder.EntryExchange(delay);
        var total = TimeSpan.Zero;
        var hops = 0;
        while (exchange != DelayLadder.DeliveryExchange)
        {
            Assert.True(hops++ < 2 * DelayLadder.Levels, "routing loops");
            var level = int.Parse(exchange[^2..], System.Globalization.CultureInfo.InvariantCulture);
            var toQueue = TopicMatches(DelayLadder.BindingPattern(level, true), key);
            var onward = TopicMatches(DelayLadder.BindingPattern(level, false), key);
            Assert.True(toQueue ^ onward, $"exactly one binding of level {level} must match {key}");
            if (toQueue)
            {
                total += DelayLadder.LevelTtl(level);
            }

            exchange = DelayLadder.NextExchange(level);
        }

        Assert.Equal(DelayLadder.Effective(delay), total);
        Assert.InRange(total - delay, TimeSpan.Zero, DelayLadder.Unit - TimeSpan.FromTicks(1));
    }

    private static bool TopicMatches(string pattern, string key) => Match(pattern.Split('.'), 0, key.Split('.'), 0);

    private static bool Match(string[] pattern, int p, string[] words, int w)
    {
        if (p == pattern.Length)
        {
            return w == words.Length;
        }

        if (pattern[p] == "#")
        {
            for (var skip = w; skip <= words.Length; skip++)
            {
                if (Match(pattern, p + 1, words, skip))
                {
                    return true;
                }
            }

            return false;
        }

        return w < words.Length && (pattern[p] == "*" || pattern[p] == words[w]) && Match(pattern, p + 1, words, w + 1);
    }
}
