namespace Workers.Resilience.Bulkhead;

/// <summary>Marks a message that a full bulkhead moved to the back of its queue (no outcome for the circuit breaker).</summary>
internal sealed class MovedToBack
{
    public static readonly MovedToBack Instance = new();
}
