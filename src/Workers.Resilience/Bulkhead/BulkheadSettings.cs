namespace Workers.Resilience.Bulkhead;

/// <summary>
/// What one consumer's bulkhead stage is configured with, validated by <see cref="BulkheadSpecification"/> and
/// carried unchanged to the <see cref="BulkheadFilter"/> it adds.
/// </summary>
/// <param name="Consumer">The consumer's name in the <see cref="BulkheadRegistry"/>.</param>
/// <param name="Options">Permits, queue and overflow of the consumer's bulkhead.</param>
/// <param name="MessageTypes">The message types the consumer handles: only those take its permits.</param>
internal sealed record BulkheadSettings(string Consumer, BulkheadOptions Options, ConsumerMessageTypes MessageTypes);
