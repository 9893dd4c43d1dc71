namespace Workers.Resilience;

/// <summary>
/// An attempt of a consumer ran past its <see cref="TimeoutOptions.Timeout"/>. It is a <see cref="TimeoutException"/>,
/// which the failure classification treats as transient: the message is redelivered, then dead-lettered.
/// (It is deliberately not an <see cref="OperationCanceledException"/>: MassTransit would requeue that without counting an attempt.)
/// </summary>
public sealed class ConsumerTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    public ConsumerTimeoutException()
        : base("The consumer timed out.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ConsumerTimeoutException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and what the consumer threw when it was cancelled.</summary>
    public ConsumerTimeoutException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
