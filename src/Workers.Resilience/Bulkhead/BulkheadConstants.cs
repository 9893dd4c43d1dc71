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

    /// <summary>Largest accepted <see cref="BulkheadOptions.PermitLimit"/>.</summary>
    public const int MaxPermitLimit = 10_000;

    /// <summary>Largest accepted <see cref="BulkheadOptions.QueueLimit"/>.</summary>
    public const int MaxQueueLimit = 100_000;
}
