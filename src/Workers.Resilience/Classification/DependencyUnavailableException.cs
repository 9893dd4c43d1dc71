namespace Workers.Resilience;

/// <summary>
/// A dependency of the framework itself — the inbox's PostgreSQL — was unavailable while a message was handled: the
/// consumer did not run, or its effects were not committed. The message goes back to its queue untouched (not an
/// attempt, not a fault, not evidence for a circuit breaker) and is tried again after a pause, so that a database
/// outage holds messages in the broker instead of burning their attempts and dead-lettering healthy ones.
/// </summary>
public sealed class DependencyUnavailableException : OperationCanceledException
{
    /// <summary>Creates the exception.</summary>
    public DependencyUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public DependencyUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the failure that caused it.</summary>
    public DependencyUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
