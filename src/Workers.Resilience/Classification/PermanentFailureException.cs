namespace Workers.Resilience;

/// <summary>
/// Thrown by a consumer to say that the message can never succeed (bad data, a rule it breaks):
/// it is dead-lettered at once, without redelivery, and does not count against a circuit breaker.
/// </summary>
public class PermanentFailureException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PermanentFailureException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public PermanentFailureException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public PermanentFailureException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
