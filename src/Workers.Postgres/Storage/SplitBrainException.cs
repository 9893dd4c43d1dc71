namespace Workers.Postgres;

/// <summary>
/// More than one of the configured PostgreSQL hosts reports itself primary: writes are refused until
/// exactly one does (fence the old primary). Transient from the caller's point of view.
/// </summary>
public sealed class SplitBrainException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SplitBrainException()
        : base("More than one PostgreSQL host claims to be primary (split brain): writes are refused.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public SplitBrainException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public SplitBrainException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
