using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using Workers.Postgres.Storage;

namespace Workers.Postgres.Inbox;

/// <summary>The inbox SQL.</summary>
internal static class InboxStore
{
    /// <summary>
    /// Records (MessageId, consumer) in the current transaction; true when new. A duplicate updates the row
    /// (counter), so its commit writes WAL and waits for the synchronous standby: a durable duplicate commit
    /// proves that the first (perhaps non-durable) commit has been replicated too. The statement is prepared: once per
    /// physical connection (prepared statements outlive the pooled connection's close), then executed without a parse.
    /// </summary>
    public static async Task<bool> TryRecordAsync(DbContext context, WorkersTables tables, Guid messageId, string consumer, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var sql = $"""
            INSERT INTO {tables.Inbox} AS i (message_id, consumer, received_at, duplicates) VALUES (@id, @consumer, @now, 0)
            ON CONFLICT (message_id, consumer) DO UPDATE SET duplicates = i.duplicates + 1
            RETURNING (xmax = 0)
            """;
        var command = await ContextCommands.CreateAsync(context, sql, cancellationToken).ConfigureAwait(false);
        await using var commandDisposal = command.ConfigureAwait(false);
        command.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = messageId });
        command.Parameters.Add(new NpgsqlParameter("consumer", NpgsqlDbType.Text) { Value = consumer });
        command.Parameters.Add(new NpgsqlParameter("now", NpgsqlDbType.TimestampTz) { Value = now });
        await command.PrepareAsync(cancellationToken).ConfigureAwait(false);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>One cleanup batch: at most <paramref name="batchSize"/> expired rows, found through the received_at index and deleted by ctid (one short statement).</summary>
    public static Task<int> CleanupAsync(DbContext context, WorkersTables tables, DateTimeOffset cutoff, int batchSize, CancellationToken cancellationToken) =>
        ContextCommands.ExecuteAsync(
            context,
            $"DELETE FROM {tables.Inbox} WHERE ctid IN (SELECT ctid FROM {tables.Inbox} WHERE received_at < @cutoff LIMIT @batch)",
            cancellationToken,
            new NpgsqlParameter("cutoff", NpgsqlDbType.TimestampTz) { Value = cutoff },
            new NpgsqlParameter("batch", NpgsqlDbType.Integer) { Value = batchSize });
}
