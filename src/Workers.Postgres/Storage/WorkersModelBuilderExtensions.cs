using Microsoft.EntityFrameworkCore;
using Workers.Postgres.FailureStore;
using Workers.Postgres.Storage;

namespace Workers.Postgres;

/// <summary>
/// Adds the Workers tables to the application's own <see cref="DbContext"/> model, so business changes,
/// outgoing messages and inbox records commit in one transaction. Call from <c>OnModelCreating</c>.
/// </summary>
public static class WorkersModelBuilderExtensions
{
    /// <summary>Table name of the outbox.</summary>
    public const string OutboxTable = "workers_outbox";

    /// <summary>
    /// View of the quarantined outbox rows (created by <see cref="WorkersSchema"/>): id, message type, destination,
    /// ordering key, failures, when and why, and how many later rows of the same ordering key it holds back.
    /// </summary>
    public const string OutboxQuarantineView = "workers_outbox_quarantine";

    /// <summary>
    /// Table of the outbox's ordering keys (created by <see cref="WorkersSchema"/>): one row per key with undispatched
    /// messages, locked by each transaction that stages for the key, so the key's positions follow commit order.
    /// </summary>
    public const string OutboxKeysTable = "workers_outbox_keys";

    /// <summary>Table name of the inbox.</summary>
    public const string InboxTable = "workers_inbox";

    /// <summary>Table of the failure store: one row per dead letter ingested from <c>&lt;queue&gt;_error</c> / <c>&lt;queue&gt;_skipped</c>.</summary>
    public const string FailuresTable = "workers_failures";

    /// <summary>Table of the failure store's history: who changed which failure, when, and how.</summary>
    public const string FailureHistoryTable = "workers_failure_history";

    /// <summary>Maps the outbox table (<c>workers_outbox</c>) into this model.</summary>
    /// <param name="modelBuilder">The application's model builder.</param>
    /// <param name="schema">Database schema, or null for the default (<c>public</c>).</param>
    /// <returns>The same model builder.</returns>
    public static ModelBuilder AddWorkersOutbox(this ModelBuilder modelBuilder, string? schema = null)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.Entity<OutboxMessage>(e =>
        {
            e.ToTable(OutboxTable, schema);
            e.HasKey(m => m.Id).HasName("pk_workers_outbox");
            e.Property(m => m.Id).HasColumnName("id").ValueGeneratedNever();
            e.Property(m => m.Sequence).HasColumnName("sequence").UseIdentityAlwaysColumn();
            e.Property(m => m.MessageType).HasColumnName("message_type").IsRequired();
            e.Property(m => m.Body).HasColumnName("body").IsRequired();
            e.Property(m => m.Destination).HasColumnName("destination");
            e.Property(m => m.Headers).HasColumnName("headers");
            e.Property(m => m.OrderingKey).HasColumnName("ordering_key");
            e.Property(m => m.KeyPosition).HasColumnName("key_position"); // set by the key-position trigger for keyed rows
            e.Property(m => m.CreatedAt).HasColumnName("created_at");
            e.Property(m => m.LockOwner).HasColumnName("lock_owner");
            e.Property(m => m.LockedUntil).HasColumnName("locked_until");
            e.Property(m => m.Attempts).HasColumnName("attempts");
            e.Property(m => m.DispatchedAt).HasColumnName("dispatched_at");
            e.Property(m => m.LastError).HasColumnName("last_error");
            e.Property(m => m.DispatchFailures).HasColumnName("dispatch_failures");
            e.Property(m => m.QuarantinedAt).HasColumnName("quarantined_at");
            e.Property(m => m.QuarantineReason).HasColumnName("quarantine_reason");
            e.HasIndex(m => new { m.CreatedAt, m.Sequence }).HasDatabaseName("ix_workers_outbox_pending").HasFilter("dispatched_at IS NULL");
            e.HasIndex(m => new { m.OrderingKey, m.KeyPosition, m.CreatedAt, m.Sequence }).HasDatabaseName("ix_workers_outbox_key_order").HasFilter("dispatched_at IS NULL AND ordering_key IS NOT NULL");
            e.HasIndex(m => m.DispatchedAt).HasDatabaseName("ix_workers_outbox_dispatched").HasFilter("dispatched_at IS NOT NULL");
        });
        return modelBuilder;
    }

    /// <summary>Maps the inbox table (<c>workers_inbox</c>) into this model.</summary>
    /// <param name="modelBuilder">The application's model builder.</param>
    /// <param name="schema">Database schema, or null for the default (<c>public</c>).</param>
    /// <returns>The same model builder.</returns>
    public static ModelBuilder AddWorkersInbox(this ModelBuilder modelBuilder, string? schema = null)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.Entity<InboxMessage>(e =>
        {
            e.ToTable(InboxTable, schema);
            e.HasKey(m => new { m.MessageId, m.Consumer }).HasName("pk_workers_inbox");
            e.Property(m => m.MessageId).HasColumnName("message_id");
            e.Property(m => m.Consumer).HasColumnName("consumer");
            e.Property(m => m.ReceivedAt).HasColumnName("received_at");
            e.Property(m => m.Duplicates).HasColumnName("duplicates");
            e.HasIndex(m => m.ReceivedAt).HasDatabaseName("ix_workers_inbox_received_at");
        });
        return modelBuilder;
    }

    /// <summary>
    /// Maps the failure store (<c>workers_failures</c> and <c>workers_failure_history</c>) into this model: the dead letters
    /// ingested by the failure-store ingester (<c>Workers:FailureStore:Enabled</c>), their status and history. Needed only by
    /// applications whose own EF migrations create the Workers tables; <c>workers migrate</c> creates them anyway.
    /// </summary>
    /// <param name="modelBuilder">The application's model builder.</param>
    /// <param name="schema">Database schema, or null for the default (<c>public</c>).</param>
    /// <returns>The same model builder.</returns>
    public static ModelBuilder AddWorkersFailureStore(this ModelBuilder modelBuilder, string? schema = null)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.Entity<FailedMessage>(e =>
        {
            e.ToTable(FailuresTable, schema, t => t.HasCheckConstraint("ck_workers_failures_status", $"status IN ('{string.Join("', '", FailureStatus.All)}')"));
            e.HasKey(m => m.Id).HasName("pk_workers_failures");
            e.Property(m => m.Id).HasColumnName("id").UseIdentityAlwaysColumn();
            e.Property(m => m.Queue).HasColumnName("queue").IsRequired();
            e.Property(m => m.DeadLetterQueue).HasColumnName("dead_letter_queue").IsRequired();
            e.Property(m => m.MessageId).HasColumnName("message_id").IsRequired();
            e.Property(m => m.FailureKey).HasColumnName("failure_key").IsRequired();
            e.Property(m => m.Consumer).HasColumnName("consumer");
            e.Property(m => m.MessageType).HasColumnName("message_type");
            e.Property(m => m.Headers).HasColumnName("headers").HasColumnType("jsonb").IsRequired();
            e.Property(m => m.Body).HasColumnName("body").IsRequired();
            e.Property(m => m.ExceptionType).HasColumnName("exception_type");
            e.Property(m => m.ExceptionMessage).HasColumnName("exception_message");
            e.Property(m => m.StackTrace).HasColumnName("stack_trace");
            e.Property(m => m.Attempts).HasColumnName("attempts");
            e.Property(m => m.FirstFailure).HasColumnName("first_failure");
            e.Property(m => m.LastFailure).HasColumnName("last_failure");
            e.Property(m => m.Host).HasColumnName("host");
            e.Property(m => m.HostVersion).HasColumnName("host_version");
            e.Property(m => m.Fingerprint).HasColumnName("fingerprint").IsRequired();
            e.Property(m => m.Status).HasColumnName("status").IsRequired().HasDefaultValue(FailureStatus.Unresolved);
            e.Property(m => m.StatusChangedAt).HasColumnName("status_changed_at");
            e.Property(m => m.ReplayId).HasColumnName("replay_id");
            e.Property(m => m.IngestedAt).HasColumnName("ingested_at");

            // Re-ingesting a delivery (committed, then killed before the ack) inserts nothing: ON CONFLICT DO NOTHING on this key.
            e.HasIndex(m => new { m.Queue, m.DeadLetterQueue, m.MessageId, m.FailureKey }).IsUnique().HasDatabaseName("ux_workers_failures_delivery");
            // The first page of a filtered list (queue and status, newest first).
            e.HasIndex(m => new { m.Queue, m.Status, m.Id }).HasDatabaseName("ix_workers_failures_queue_page").IsDescending(false, false, true);
            // Group counts by status (and queue), index-only; and a group's members in order.
            e.HasIndex(m => new { m.Status, m.Queue, m.Fingerprint }).HasDatabaseName("ix_workers_failures_groups").IncludeProperties(m => new { m.LastFailure, m.FirstFailure });
            e.HasIndex(m => new { m.Fingerprint, m.Id }).HasDatabaseName("ix_workers_failures_fingerprint");
        });
        modelBuilder.Entity<FailureHistoryEntry>(e =>
        {
            e.ToTable(FailureHistoryTable, schema);
            e.HasKey(h => h.Id).HasName("pk_workers_failure_history");
            e.Property(h => h.Id).HasColumnName("id").UseIdentityAlwaysColumn();
            e.Property(h => h.FailureId).HasColumnName("failure_id");
            e.Property(h => h.At).HasColumnName("at");
            e.Property(h => h.Actor).HasColumnName("actor").IsRequired();
            e.Property(h => h.Action).HasColumnName("action").IsRequired();
            e.Property(h => h.Status).HasColumnName("status");
            e.Property(h => h.Detail).HasColumnName("detail").HasColumnType("jsonb");
            e.HasOne<FailedMessage>().WithMany().HasForeignKey(h => h.FailureId).HasConstraintName("fk_workers_failure_history_failure").OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(h => new { h.FailureId, h.At }).HasDatabaseName("ix_workers_failure_history_failure");
        });
        return modelBuilder;
    }
}
