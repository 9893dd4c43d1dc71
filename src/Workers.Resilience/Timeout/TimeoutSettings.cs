namespace Workers.Resilience.Timeout;

/// <summary>
/// What one consumer's timeout stage is configured with, validated by <see cref="TimeoutSpecification"/> and
/// carried unchanged to the <see cref="ConsumerTimeoutFilter"/> it adds.
/// </summary>
/// <param name="Consumer">The consumer's name in the <see cref="ConsumerTimeoutRegistry"/>.</param>
/// <param name="Options">The per-attempt timeout and its grace period.</param>
/// <param name="MessageTypes">The message types the consumer handles: only those are timed.</param>
internal sealed record TimeoutSettings(string Consumer, TimeoutOptions Options, ConsumerMessageTypes MessageTypes);
