namespace Workers.Resilience;

/// <summary>
/// Thrown by the circuit breaker stage for a message that must go back to the broker queue untouched
/// (breaker open, or the message failed because of the outage that opened it).
/// It derives from <see cref="OperationCanceledException"/> because MassTransit lets that escape its error
/// pipe: the receive transport then nacks the delivery with requeue (no <c>_error</c>, no
/// <c>MT-Redelivery-Count</c>). Outer stages (redelivery, dead-letter fallback, plain retry) must rethrow it
/// untouched and never count it as an attempt.
/// </summary>
public sealed class CircuitBreakerOpenException : OperationCanceledException
{
    /// <summary>Creates the exception.</summary>
    public CircuitBreakerOpenException()
        : base("The circuit breaker is open: the message is returned to the queue.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public CircuitBreakerOpenException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the failure it replaces.</summary>
    public CircuitBreakerOpenException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
