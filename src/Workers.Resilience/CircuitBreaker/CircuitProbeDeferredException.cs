namespace Workers.Resilience.CircuitBreaker;

/// <summary>
/// Thrown by the circuit breaker stage for a half-open probe that failed again (the message had failed before): the
/// redelivery stage outside sends it back through the delay ladder for <see cref="Delay"/> with its redelivery count
/// unchanged — no attempt counted — and acknowledges it. Without that stage it is an <see cref="OperationCanceledException"/>
/// like <see cref="CircuitBreakerOpenException"/>: the transport returns the message to its queue untouched.
/// </summary>
internal sealed class CircuitProbeDeferredException : OperationCanceledException
{
    public CircuitProbeDeferredException(string message, TimeSpan delay, Exception innerException)
        : base(message, innerException)
    {
        Delay = delay;
    }

    /// <summary>How long the message waits in the delay ladder.</summary>
    public TimeSpan Delay { get; }
}
