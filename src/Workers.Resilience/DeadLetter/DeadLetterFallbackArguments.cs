using MassTransit;

namespace Workers.Resilience;

/// <summary>
/// What a dead-letter fallback receives: it runs just before the message is dead-lettered (e.g. to publish a compensating
/// response through <see cref="Context"/>). If it throws, the message is dead-lettered all the same.
/// </summary>
public readonly struct DeadLetterFallbackArguments
{
    /// <summary>Creates the arguments.</summary>
    /// <param name="context">The consume context of the failed message.</param>
    /// <param name="exception">The last exception.</param>
    /// <param name="reason"><c>exhausted</c> or <c>permanent</c>.</param>
    /// <param name="attempts">Attempts made in all.</param>
    /// <param name="cancellationToken">Cancelled when the fallback exceeds its timeout.</param>
    public DeadLetterFallbackArguments(ConsumeContext context, Exception exception, string reason, int attempts, CancellationToken cancellationToken)
    {
        Context = context;
        Exception = exception;
        Reason = reason;
        Attempts = attempts;
        CancellationToken = cancellationToken;
    }

    /// <summary>The consume context of the failed message (publish or respond through it).</summary>
    public ConsumeContext Context { get; }

    /// <summary>The last exception.</summary>
    public Exception Exception { get; }

    /// <summary>Why the message is dead-lettered: <c>exhausted</c> or <c>permanent</c>.</summary>
    public string Reason { get; }

    /// <summary>Attempts made in all (first delivery, immediate retries and redeliveries).</summary>
    public int Attempts { get; }

    /// <summary>Cancelled when the fallback exceeds <see cref="DeadLetterOptions.FallbackTimeout"/>.</summary>
    public CancellationToken CancellationToken { get; }
}
