using Microsoft.Extensions.Logging;

namespace Workers.Resilience.Redelivery;

/// <summary>
/// What one redelivery stage runs with, validated by <see cref="RedeliveryPipeSpecification{TContext}"/> and
/// carried unchanged to each <see cref="RedeliveryFilter{TContext}"/> it adds.
/// </summary>
/// <param name="Options">Immediate retries, the redelivery ladder and the exception classification.</param>
/// <param name="DeadLetter">What a dead letter records and how long the fallback may take.</param>
/// <param name="Fallback">The user's callback before a message is dead-lettered, if any.</param>
/// <param name="Consumer">The consumer's name for metrics and fault headers; the queue's name when null.</param>
/// <param name="Time">The clock for delays and timestamps.</param>
/// <param name="Logger">Where the stage logs.</param>
internal sealed record RedeliverySettings(
    RedeliveryOptions Options,
    DeadLetterOptions DeadLetter,
    Func<DeadLetterFallbackArguments, Task>? Fallback,
    string? Consumer,
    TimeProvider Time,
    ILogger Logger)
{
    /// <summary>The endpoint's classification: <see cref="RedeliveryOptions.Classification"/> unless the host gave
    /// one with rules in code added (the stage hands it to the circuit breaker too: one source of truth).</summary>
    public ExceptionClassificationOptions Classification { get; init; } = Options.Classification;
}
