namespace Workers.Resilience;

/// <summary>What a consumer's bulkhead looks like at one moment (see <see cref="BulkheadRegistry"/>).</summary>
/// <param name="Consumer">The consumer's name (its type's full name unless configured).</param>
/// <param name="PermitLimit">Current permit limit.</param>
/// <param name="QueueLimit">Current queue limit.</param>
/// <param name="InFlight">Permits held (running messages, including timed-out consumers that ignored cancellation and still run).</param>
/// <param name="Waiting">Messages waiting in process for a permit.</param>
/// <param name="Rejected">Messages returned to the queue because the bulkhead was full, since start.</param>
public sealed record BulkheadSnapshot(string Consumer, int PermitLimit, int QueueLimit, int InFlight, int Waiting, long Rejected);
