namespace Workers.Postgres.Storage;

/// <summary>One outgoing message, written in the application's transaction and dispatched later.</summary>
internal sealed class OutboxMessage
{
    /// <summary>The message's MessageId on the wire; the same on every (re-)dispatch.</summary>
    public Guid Id { get; set; }

    /// <summary>Insertion order (a sequence: values jump after a failover, never gap-free; only compared, never paged on).</summary>
    public long Sequence { get; set; }

    /// <summary>Message type: <c>Full.Name, Assembly</c>.</summary>
    public string MessageType { get; set; } = string.Empty;

    /// <summary>The message serialized as JSON (System.Text.Json, MassTransit's options).</summary>
    public string Body { get; set; } = string.Empty;

    /// <summary>Send destination (<c>queue:name</c> or a full URI); null publishes.</summary>
    public string? Destination { get; set; }

    /// <summary>Extra headers as a JSON object of strings, or null.</summary>
    public string? Headers { get; set; }

    /// <summary>Rows sharing a key are dispatched one after the other, in commit order (<see cref="KeyPosition"/>).</summary>
    public string? OrderingKey { get; set; }

    /// <summary>
    /// Commit order within <see cref="OrderingKey"/>: assigned by the database on insert (trigger
    /// <c>workers_outbox_key_position</c>) from a sequence drawn while the transaction holds the key's row lock in
    /// <c>workers_outbox_keys</c>, so transactions staging for one key serialize and a later commit always gets a larger
    /// value; the rows of one transaction share it (ordered among themselves by <see cref="CreatedAt"/>). 0 for rows
    /// without a key (and for keyed rows staged before the trigger existed, which then come first).
    /// The head of a key is its undispatched row with the smallest (key_position, created_at, sequence).
    /// </summary>
    public long KeyPosition { get; set; }

    /// <summary>
    /// When the row was staged (the staging process's clock); strictly increasing within a process (microsecond steps),
    /// so it orders rows of one transaction in staging order (EF Core does not insert in Add order). Across transactions
    /// it orders rows without a key only; a key's rows follow <see cref="KeyPosition"/> (commit order) first.
    /// </summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The dispatcher that holds the lease, or null.</summary>
    public string? LockOwner { get; set; }

    /// <summary>The lease (or retry back-off) ends at this instant; the row is claimable afterwards.</summary>
    public DateTimeOffset? LockedUntil { get; set; }

    /// <summary>Number of claims so far.</summary>
    public int Attempts { get; set; }

    /// <summary>When the broker confirmed the message; null while undelivered.</summary>
    public DateTimeOffset? DispatchedAt { get; set; }

    /// <summary>The last dispatch failure, truncated.</summary>
    public string? LastError { get; set; }

    /// <summary>
    /// Failed dispatches caused by the row itself (unknown type, unreadable body or headers, invalid destination);
    /// broker outages and unroutable publishes are not counted.
    /// </summary>
    public int DispatchFailures { get; set; }

    /// <summary>When the row was quarantined after <see cref="OutboxOptions.MaxDispatchAttempts"/> such failures; null otherwise. Never dispatched while set.</summary>
    public DateTimeOffset? QuarantinedAt { get; set; }

    /// <summary>Why the row was quarantined (the last failure, truncated).</summary>
    public string? QuarantineReason { get; set; }
}
