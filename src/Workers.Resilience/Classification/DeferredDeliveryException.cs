namespace Workers.Resilience.Classification;

/// <summary>
/// Thrown by an inner stage for a message that must wait and come back at the tail of its queue without counting an
/// attempt: a half-open probe that failed again (circuit breaker), or bulkhead overflow moved to the back. The redelivery
/// stage outside sends a byte-exact copy through the delay ladder for <see cref="Delay"/> with its redelivery count
/// unchanged (confirmed before the ack), so every header — and the trusted attempt count — survives. Without that stage
/// it is an <see cref="OperationCanceledException"/>, a requeue signal: the transport returns the message untouched.
/// </summary>
internal sealed class DeferredDeliveryException : OperationCanceledException
{
    public DeferredDeliveryException(string reason, TimeSpan delay, Exception? innerException = null)
        : base($"The message is deferred ({reason}) for {delay} without counting an attempt.", innerException)
    {
        Reason = reason;
        Delay = delay;
    }

    /// <summary>Why, for logs: <c>probe failed again</c>, <c>bulkhead overflow</c>.</summary>
    public string Reason { get; }

    /// <summary>How long the message waits in the delay ladder (rounded up to its 100 ms unit).</summary>
    public TimeSpan Delay { get; }
}

/// <summary>Payload the redelivery stage puts on each consume context: inner stages may defer a message through it.</summary>
internal sealed class DeferralAvailable
{
    public static readonly DeferralAvailable Instance = new();

    private DeferralAvailable()
    {
    }
}
