namespace Workers.Postgres.Outbox;

/// <summary>A row claimed by a dispatcher.</summary>
internal sealed record OutboxClaim(
    Guid Id,
    long Sequence,
    string MessageType,
    string Body,
    string? Destination,
    string? Headers,
    string? OrderingKey,
    DateTimeOffset CreatedAt,
    int Attempts);

/// <summary>Why a dispatch failed: decides whether it counts towards quarantine.</summary>
internal enum OutboxFailureKind
{
    /// <summary>The broker (outage, timeout, nack): retried with back-off, not counted.</summary>
    Broker,

    /// <summary>Confirmed but returned (no queue bound): retried with back-off, not counted, reported.</summary>
    Unroutable,

    /// <summary>The row itself (unknown type, unreadable body or headers, invalid destination): counted towards quarantine.</summary>
    Row,
}

/// <summary>A failed publish to back off.</summary>
internal readonly record struct OutboxFailure(Guid Id, DateTimeOffset RetryAt, string Error, OutboxFailureKind Kind);

/// <summary>A row quarantined by a release.</summary>
internal readonly record struct OutboxQuarantined(Guid Id, string MessageType, string? OrderingKey, int DispatchFailures);

/// <summary>
/// Undelivered rows: how many (quarantined rows apart), the oldest dispatchable one's creation (rows held behind a
/// quarantined row of their ordering key left out), how many are quarantined and how many are held behind them.
/// </summary>
internal readonly record struct OutboxBacklogSnapshot(long Pending, DateTimeOffset? OldestCreatedAt, DateTimeOffset MeasuredAt, long Quarantined = 0, long Held = 0);
