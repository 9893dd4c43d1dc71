namespace Workers.Resilience.Redelivery;

/// <summary>Defaults and limits of the redelivery stage.</summary>
internal static class RedeliveryConstants
{
    public const int DefaultMaxRedeliveryAttempts = 5;
    public const int MaxMaxRedeliveryAttempts = 100;
    public const int DefaultImmediateRetries = 0;
    public const int MaxImmediateRetries = 10;
    public const RedeliveryBackoffType DefaultBackoffType = RedeliveryBackoffType.Exponential;
    public const bool DefaultUseJitter = false;

    /// <summary>
    /// How many times one process holds a message in the broker ("broker unavailable": not acked, not counted) before it
    /// stops trying to redeliver it and dead-letters it instead (<c>broker-unavailable</c>); when even the dead letter
    /// cannot be published it stays held, with an error logged each time (event 3009).
    /// </summary>
    public const int MaxBrokerUnavailableHolds = 20;

    /// <summary>Jitter spreads a delay uniformly over ±20 % of its value (then the cap applies).</summary>
    public const double JitterFactor = 0.2;

    public static readonly TimeSpan DefaultDelay = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan DefaultMaxDelay = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan DefaultImmediateRetryDelay = TimeSpan.Zero;
    public static readonly TimeSpan MaxImmediateRetryDelay = TimeSpan.FromSeconds(5);
}
