namespace Workers.Resilience;

/// <summary>Defaults of <see cref="CircuitBreakerOptions"/>.</summary>
public static class CircuitBreakerConstants
{
    /// <summary>Default <see cref="CircuitBreakerOptions.FailureRatio"/>: 0.5.</summary>
    public const double DefaultFailureRatio = 0.5;

    /// <summary>Default <see cref="CircuitBreakerOptions.MinimumThroughput"/>: 10 messages.</summary>
    public const int DefaultMinimumThroughput = 10;

    /// <summary>Default <see cref="CircuitBreakerOptions.SamplingDuration"/>: 30 seconds.</summary>
    public static readonly TimeSpan DefaultSamplingDuration = TimeSpan.FromSeconds(30);

    /// <summary>Default <see cref="CircuitBreakerOptions.BreakDuration"/>: 30 seconds.</summary>
    public static readonly TimeSpan DefaultBreakDuration = TimeSpan.FromSeconds(30);

    /// <summary>Default <see cref="CircuitBreakerOptions.MaxBreakDuration"/>: 5 minutes.</summary>
    public static readonly TimeSpan DefaultMaxBreakDuration = TimeSpan.FromMinutes(5);

    /// <summary>Default <see cref="CircuitBreakerOptions.BreakDurationFactor"/>: 2 (each consecutive re-opening doubles the break).</summary>
    public const double DefaultBreakDurationFactor = 2.0;

    /// <summary>Default <see cref="CircuitBreakerOptions.HalfOpenProbes"/>: 1 message at a time.</summary>
    public const int DefaultHalfOpenProbes = 1;

    /// <summary>Default <see cref="CircuitBreakerOptions.RepeatFailureProbes"/>: 10 per half-open period.</summary>
    public const int DefaultRepeatFailureProbes = 10;

    /// <summary>How many recently failed message ids a breaker remembers (to tell a message failing again from a fresh one).</summary>
    internal const int FailureMemoryCapacity = 10_000;

    /// <summary>Smallest accepted <see cref="CircuitBreakerOptions.SamplingDuration"/> and <see cref="CircuitBreakerOptions.BreakDuration"/>: 100 ms.</summary>
    public static readonly TimeSpan MinimumDuration = TimeSpan.FromMilliseconds(100);

    /// <summary>Number of buckets the sampling window is divided into (the window slides one bucket at a time).</summary>
    public const int WindowBuckets = 10;

    /// <summary>How long a breaker waits for a restarted endpoint to be ready before it tries again.</summary>
    internal static readonly TimeSpan EndpointReadyTimeout = TimeSpan.FromMinutes(1);

    /// <summary>Pause before retrying a failed endpoint start or stop: 1 s, doubling, at most 30 s.</summary>
    internal static TimeSpan EndpointRetryDelay(int failures) =>
        TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, Math.Clamp(failures, 1, 6) - 1)));
}
