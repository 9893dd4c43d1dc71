namespace Workers.Resilience;

/// <summary>
/// Which exceptions are permanent (dead-lettered at once) and which are transient (retried).
/// An exception matches a listed type when it is that type or derives from it; the innermost
/// exception of an <see cref="AggregateException"/> or a wrapping exception is also examined.
/// </summary>
public sealed class ExceptionClassificationOptions
{
    /// <summary>Exception types that are never retried, in addition to the built-in ones (full names or assembly-qualified names).</summary>
    public IList<string> PermanentExceptions { get; } = [];

    /// <summary>Exception types that are always retried, even when they derive from a permanent type.</summary>
    public IList<string> TransientExceptions { get; } = [];
}
