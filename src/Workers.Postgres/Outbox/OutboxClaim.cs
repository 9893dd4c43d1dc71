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

/// <summary>A failed publish to back off.</summary>
internal readonly record struct OutboxFailure(Guid Id, DateTimeOffset RetryAt, string Error);

/// <summary>Undelivered rows: how many and the oldest one's age.</summary>
internal readonly record struct OutboxBacklogSnapshot(long Pending, DateTimeOffset? OldestCreatedAt, DateTimeOffset MeasuredAt);
