namespace Workers.Resilience.Redelivery;

/// <summary>The redelivery schedule. Pure: no I/O, no clock.</summary>
internal static class RedeliveryDelayCalculator
{
    /// <summary>
    /// The delay before redelivery number <paramref name="redelivery"/> (1-based).
    /// <paramref name="random"/> is a sample in [0, 1), used only with jitter.
    /// </summary>
    public static TimeSpan GetDelay(RedeliveryOptions options, int redelivery, double random = 0.5)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(redelivery, 1);
        var baseTicks = (double)options.Delay.Ticks;
        var ticks = options.BackoffType switch
        {
            RedeliveryBackoffType.Constant => baseTicks,
            RedeliveryBackoffType.Linear => baseTicks * redelivery,
            _ => baseTicks * Math.Pow(2, Math.Min(redelivery - 1, 62)),
        };

        if (options.UseJitter)
        {
            ticks *= 1 + (RedeliveryConstants.JitterFactor * ((2 * random) - 1));
        }

        var max = (double)options.MaxDelay.Ticks;
        if (double.IsNaN(ticks) || ticks > max)
        {
            ticks = max;
        }

        return TimeSpan.FromTicks((long)Math.Max(ticks, 0));
    }
}
