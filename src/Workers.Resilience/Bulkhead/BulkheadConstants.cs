namespace Workers.Resilience;

/// <summary>Defaults of <see cref="BulkheadOptions"/>.</summary>
public static class BulkheadConstants
{
    /// <summary>Default <see cref="BulkheadOptions.PermitLimit"/>: 8 concurrent messages.</summary>
    public const int DefaultPermitLimit = 8;

    /// <summary>Default <see cref="BulkheadOptions.QueueLimit"/>: 0 (a message over the limit goes straight back to the queue).</summary>
    public const int DefaultQueueLimit = 0;

    /// <summary>Default <see cref="BulkheadOptions.Overflow"/>: <see cref="BulkheadOverflow.Requeue"/>.</summary>
    public const BulkheadOverflow DefaultOverflow = BulkheadOverflow.Requeue;

    /// <summary>
    /// How long an overflowing message is held before <see cref="BulkheadOverflow.Requeue"/> returns it: the broker
    /// redelivers a requeued message at once, so without the pause a saturated consumer's overflow would cycle between
    /// broker and worker at network speed.
    /// </summary>
    internal static readonly TimeSpan RequeuePause = TimeSpan.FromSeconds(1);

    /// <summary>Largest accepted <see cref="BulkheadOptions.PermitLimit"/>.</summary>
    public const int MaxPermitLimit = 10_000;

    /// <summary>Largest accepted <see cref="BulkheadOptions.QueueLimit"/>.</summary>
    public const int MaxQueueLimit = 100_000;
}
