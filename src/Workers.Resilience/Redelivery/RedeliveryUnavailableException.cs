namespace Workers.Resilience;

/// <summary>
/// The broker did not take the delayed copy (or the dead letter) of a failed message — typically while the
/// redelivery connection recovers after a broker restart. The message goes back to its queue untouched (not an
/// attempt, not a fault) and is tried again, rather than being dead-lettered because of the broker's outage.
/// </summary>
public sealed class RedeliveryUnavailableException : OperationCanceledException
{
    /// <summary>Creates the exception.</summary>
    public RedeliveryUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public RedeliveryUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the broker failure that caused it.</summary>
    public RedeliveryUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
