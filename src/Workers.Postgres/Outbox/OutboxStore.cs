using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using Workers.Postgres.Storage;

namespace Workers.Postgres.Outbox;

/// <summary>The dispatcher's SQL: each method is one short statement (its own transaction), never held across broker I/O.</summary>
internal sealed class OutboxStore(WorkersTables tables)
{
    private readonly string claimSql = $"""
        WITH candidates AS (
            SELECT o.id FROM {tables.Outbox} o
            WHERE o.dispatched_at IS NULL
              AND (o.locked_until IS NULL OR o.locked_until <= @now OR o.lock_owner = @owner)
              AND (o.ordering_key IS NULL OR NOT EXISTS (
                    SELECT 1 FROM {tables.Outbox} p
                    WHERE p.ordering_key = o.ordering_key AND p.dispatched_at IS NULL AND (p.created_at, p.sequence) < (o.created_at, o.sequence)))
            ORDER BY o.created_at, o.sequence
            LIMIT @batch
            FOR UPDATE SKIP LOCKED)
        UPDATE {tables.Outbox} o SET lock_owner = @owner, locked_until = @until, attempts = o.attempts + 1
        FROM candidates c WHERE o.id = c.id
        RETURNING o.id, o.sequence, o.message_type, o.body, o.destination, o.headers, o.ordering_key, o.created_at, o.attempts
        """;

    private readonly string markSql = $"""
        UPDATE {tables.Outbox} SET dispatched_at = @now, lock_owner = NULL, locked_until = NULL, last_error = NULL
        WHERE id = ANY(@ids) AND dispatched_at IS NULL
        """;

    private readonly string releaseSql = $"""
        UPDATE {tables.Outbox} o SET lock_owner = NULL, locked_until = f.retry_at, last_error = f.error
        FROM unnest(@ids, @retry_at, @errors) AS f(id, retry_at, error)
        WHERE o.id = f.id AND o.dispatched_at IS NULL AND o.lock_owner = @owner
        """;

    private readonly string backlogSql = $"SELECT count(*), min(created_at) FROM {tables.Outbox} WHERE dispatched_at IS NULL";

    private readonly string purgeSql = $"""
        DELETE FROM {tables.Outbox} WHERE id IN (
            SELECT id FROM {tables.Outbox} WHERE dispatched_at IS NOT NULL AND dispatched_at <= @cutoff LIMIT @batch)
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

    public Task<int> ReleaseAsync(DbContext context, string owner, IReadOnlyList<OutboxFailure> failures, CancellationToken cancellationToken) =>
        ContextCommands.ExecuteAsync(
            context,
            releaseSql,
            cancellationToken,
            new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = failures.Select(f => f.Id).ToArray() },
            new NpgsqlParameter("retry_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = failures.Select(f => f.RetryAt).ToArray() },
            new NpgsqlParameter("errors", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = failures.Select(f => f.Error).ToArray() },
            new NpgsqlParameter("owner", NpgsqlDbType.Text) { Value = owner });

    public async Task<OutboxBacklogSnapshot> MeasureAsync(DbContext context, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var command = await ContextCommands.CreateAsync(context, backlogSql, cancellationToken).ConfigureAwait(false);
        await using var commandDisposal = command.ConfigureAwait(false);
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerDisposal = reader.ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new OutboxBacklogSnapshot(reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1), now);
    }

    /// <summary>One purge batch: at most <paramref name="batchSize"/> dispatched rows older than the cutoff (partial index on dispatched_at, deleted by primary key).</summary>
    public Task<int> PurgeAsync(DbContext context, DateTimeOffset cutoff, int batchSize, CancellationToken cancellationToken) =>
        ContextCommands.ExecuteAsync(
            context,
            purgeSql,
            cancellationToken,
            new NpgsqlParameter("cutoff", NpgsqlDbType.TimestampTz) { Value = cutoff },
            new NpgsqlParameter("batch", NpgsqlDbType.Integer) { Value = batchSize });
}
