using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using Workers.Postgres.Storage;

namespace Workers.Postgres.Outbox;

/// <summary>The dispatcher's SQL: each method is one short statement (its own transaction), never held across broker I/O.</summary>
internal sealed class OutboxStore(WorkersTables tables)
{
    // The claim is the dispatcher's durability gate (issue 19.2): it is a write, so its commit waits until the
    // synchronous standby has flushed WAL up to the claim's commit record — which lies after the commit record of every
    // row the claim can see. A claim that returns without the "canceling wait for synchronous replication" notice
    // (DurableCommit watch) therefore proves its rows durable; a cancelled wait throws and nothing is published.
    // `durable` pins synchronous_commit for this transaction (on, or remote_apply if that is the default): a session,
    // role or database default of local/off/remote_write would otherwise let the claim return before the standby has
    // the rows.
    private readonly string claimSql = $"""
        WITH durable AS (
            SELECT set_config('synchronous_commit', CASE current_setting('synchronous_commit') WHEN 'remote_apply' THEN 'remote_apply' ELSE 'on' END, true)),
        candidates AS (
            SELECT o.id FROM {tables.Outbox} o
            WHERE o.dispatched_at IS NULL AND o.quarantined_at IS NULL
              AND (o.locked_until IS NULL OR o.locked_until <= @now OR o.lock_owner = @owner)
              AND (o.ordering_key IS NULL OR NOT EXISTS (
                    SELECT 1 FROM {tables.Outbox} p
                    WHERE p.ordering_key = o.ordering_key AND p.dispatched_at IS NULL
                      AND (p.key_position, p.created_at, p.sequence) < (o.key_position, o.created_at, o.sequence)))
            ORDER BY o.created_at, o.sequence
            LIMIT @batch
            FOR UPDATE SKIP LOCKED)
        UPDATE {tables.Outbox} o SET lock_owner = @owner, locked_until = @until, attempts = o.attempts + 1
        FROM candidates c, durable WHERE o.id = c.id
        RETURNING o.id, o.sequence, o.message_type, o.body, o.destination, o.headers, o.ordering_key, o.created_at, o.attempts
        """;

    private readonly string markSql = $"""
        UPDATE {tables.Outbox} SET dispatched_at = @now, lock_owner = NULL, locked_until = NULL, last_error = NULL
        WHERE id = ANY(@ids) AND dispatched_at IS NULL
        """;

    // A failure of the row itself (counts = true) adds to dispatch_failures; the one that reaches @max quarantines the row.
    private readonly string releaseSql = $"""
        UPDATE {tables.Outbox} o SET lock_owner = NULL, locked_until = f.retry_at, last_error = f.error,
            dispatch_failures = o.dispatch_failures + CASE WHEN f.counts THEN 1 ELSE 0 END,
            quarantined_at = CASE WHEN f.counts AND o.dispatch_failures + 1 >= @max THEN @now END,
            quarantine_reason = CASE WHEN f.counts AND o.dispatch_failures + 1 >= @max THEN f.error END
        FROM unnest(@ids, @retry_at, @errors, @counts) AS f(id, retry_at, error, counts)
        WHERE o.id = f.id AND o.dispatched_at IS NULL AND o.lock_owner = @owner
        RETURNING o.id, o.message_type, o.ordering_key, o.dispatch_failures, o.quarantined_at IS NOT NULL
        """;

    // Quarantined rows, and rows of their ordering keys held behind them, are reported apart and left out of the lag.
    private readonly string backlogSql = $"""
        WITH undelivered AS (
            SELECT o.created_at, o.quarantined_at IS NOT NULL AS quarantined,
                   (o.quarantined_at IS NULL AND o.ordering_key IS NOT NULL AND o.ordering_key IN (
                        SELECT q.ordering_key FROM {tables.Outbox} q
                        WHERE q.dispatched_at IS NULL AND q.quarantined_at IS NOT NULL AND q.ordering_key IS NOT NULL)) AS held
            FROM {tables.Outbox} o WHERE o.dispatched_at IS NULL)
        SELECT count(*) FILTER (WHERE NOT quarantined),
               min(created_at) FILTER (WHERE NOT quarantined AND NOT held),
               count(*) FILTER (WHERE quarantined),
               count(*) FILTER (WHERE held)
        FROM undelivered
        """;

    private readonly string purgeSql = $"""
        DELETE FROM {tables.Outbox} WHERE id IN (
            SELECT id FROM {tables.Outbox} WHERE dispatched_at IS NOT NULL AND dispatched_at <= @cutoff LIMIT @batch)
        """;

    // Keys with no undispatched row: their rows only anchor the lock, so deleting one is safe at any time (the next
    // staging re-creates it and draws a larger position); rows locked by a staging transaction are skipped.
    private readonly string purgeKeysSql = $"""
        DELETE FROM {tables.OutboxKeys} WHERE ordering_key IN (
            SELECT k.ordering_key FROM {tables.OutboxKeys} k
            WHERE NOT EXISTS (SELECT 1 FROM {tables.Outbox} o WHERE o.ordering_key = k.ordering_key AND o.dispatched_at IS NULL)
            LIMIT @batch FOR UPDATE SKIP LOCKED)
        """;

    public WorkersTables Tables => tables;

    public async Task<IReadOnlyList<OutboxClaim>> ClaimAsync(DbContext context, string owner, int batchSize, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken)
    {
        var command = await ContextCommands.CreateAsync(context, claimSql, cancellationToken).ConfigureAwait(false);
        await using var commandDisposal = command.ConfigureAwait(false);
        command.Parameters.Add(new NpgsqlParameter("now", NpgsqlDbType.TimestampTz) { Value = now });
        command.Parameters.Add(new NpgsqlParameter("owner", NpgsqlDbType.Text) { Value = owner });
        command.Parameters.Add(new NpgsqlParameter("batch", NpgsqlDbType.Integer) { Value = batchSize });
        command.Parameters.Add(new NpgsqlParameter("until", NpgsqlDbType.TimestampTz) { Value = until });
        var claims = new List<OutboxClaim>();
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                claims.Add(new OutboxClaim(
                    reader.GetGuid(0),
                    reader.GetInt64(1),
                    reader.GetString(2),
                    reader.GetString(3),
                    reader.IsDBNull(4) ? null : reader.GetString(4),
                    reader.IsDBNull(5) ? null : reader.GetString(5),
                    reader.IsDBNull(6) ? null : reader.GetString(6),
                    reader.GetFieldValue<DateTimeOffset>(7),
                    reader.GetInt32(8)));
            }
        }

        claims.Sort((a, b) => a.CreatedAt != b.CreatedAt ? a.CreatedAt.CompareTo(b.CreatedAt) : a.Sequence.CompareTo(b.Sequence));
        return claims;
    }

    public Task<int> MarkDispatchedAsync(DbContext context, IReadOnlyList<Guid> ids, DateTimeOffset now, CancellationToken cancellationToken) =>
        ContextCommands.ExecuteAsync(
            context,
            markSql,
            cancellationToken,
            new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = ids.ToArray() },
            new NpgsqlParameter("now", NpgsqlDbType.TimestampTz) { Value = now });

    /// <summary>Backs the failed rows off; returns those that this release quarantined.</summary>
    public async Task<IReadOnlyList<OutboxQuarantined>> ReleaseAsync(DbContext context, string owner, IReadOnlyList<OutboxFailure> failures, int maxDispatchAttempts, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var command = await ContextCommands.CreateAsync(context, releaseSql, cancellationToken).ConfigureAwait(false);
        await using var commandDisposal = command.ConfigureAwait(false);
        command.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = failures.Select(f => f.Id).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("retry_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = failures.Select(f => f.RetryAt).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("errors", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = failures.Select(f => f.Error).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("counts", NpgsqlDbType.Array | NpgsqlDbType.Boolean) { Value = failures.Select(f => f.Kind == OutboxFailureKind.Row).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("owner", NpgsqlDbType.Text) { Value = owner });
        command.Parameters.Add(new NpgsqlParameter("max", NpgsqlDbType.Integer) { Value = maxDispatchAttempts });
        command.Parameters.Add(new NpgsqlParameter("now", NpgsqlDbType.TimestampTz) { Value = now });
        var quarantined = new List<OutboxQuarantined>();
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (reader.GetBoolean(4))
                {
                    quarantined.Add(new OutboxQuarantined(reader.GetGuid(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetInt32(3)));
                }
            }
        }

        return quarantined;
    }

    public async Task<OutboxBacklogSnapshot> MeasureAsync(DbContext context, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var command = await ContextCommands.CreateAsync(context, backlogSql, cancellationToken).ConfigureAwait(false);
        await using var commandDisposal = command.ConfigureAwait(false);
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerDisposal = reader.ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new OutboxBacklogSnapshot(reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1), now, reader.GetInt64(2), reader.GetInt64(3));
    }

    /// <summary>One batch of idle ordering keys: at most <paramref name="batchSize"/> key rows with no undispatched message.</summary>
    public Task<int> PurgeKeysAsync(DbContext context, int batchSize, CancellationToken cancellationToken) =>
        ContextCommands.ExecuteAsync(
            context,
            purgeKeysSql,
            cancellationToken,
            new NpgsqlParameter("batch", NpgsqlDbType.Integer) { Value = batchSize });

    /// <summary>One purge batch: at most <paramref name="batchSize"/> dispatched rows older than the cutoff (partial index on dispatched_at, deleted by primary key).</summary>
    public Task<int> PurgeAsync(DbContext context, DateTimeOffset cutoff, int batchSize, CancellationToken cancellationToken) =>
        ContextCommands.ExecuteAsync(
            context,
            purgeSql,
            cancellationToken,
            new NpgsqlParameter("cutoff", NpgsqlDbType.TimestampTz) { Value = cutoff },
            new NpgsqlParameter("batch", NpgsqlDbType.Integer) { Value = batchSize });
}
