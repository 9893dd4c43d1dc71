namespace Workers.Postgres;

/// <summary>
/// A commit returned success but PostgreSQL reported <c>canceling wait for synchronous replication</c>
/// (SQLSTATE 01000): the change is committed on the primary only and may be lost at a failover.
/// Treated as transient: the operation is retried (an idempotent retry makes the earlier change durable).
/// </summary>
public sealed class NonDurableCommitException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NonDurableCommitException()
        : base("The commit was not confirmed by the synchronous standby (canceling wait for synchronous replication); it is not durable.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public NonDurableCommitException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public NonDurableCommitException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
