namespace Workers.Resilience;

/// <summary>
/// Thrown by a bulkhead for a message over its <see cref="BulkheadOptions.PermitLimit"/> + <see cref="BulkheadOptions.QueueLimit"/>.
/// Like <see cref="CircuitBreakerOpenException"/> it derives from <see cref="OperationCanceledException"/>, so MassTransit
/// returns the delivery to the queue (nack with requeue); outer stages must rethrow it untouched and not count an attempt.
/// </summary>
public sealed class BulkheadRejectedException : OperationCanceledException
{
    /// <summary>Creates the exception.</summary>
    public BulkheadRejectedException()
        : base("The bulkhead is full: the message is returned to the queue.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public BulkheadRejectedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public BulkheadRejectedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
