using Npgsql;
using NpgsqlTypes;
using Workers.Postgres.Storage;

namespace Workers.Postgres.FailureStore;

/// <summary>
/// Inserts a batch of dead letters into <c>workers_failures</c> in one statement (one transaction), skipping those
/// already there (<c>ON CONFLICT DO NOTHING</c> on the delivery key), so the caller can ack the batch once this returns:
/// a batch committed and then redelivered (the process died before the ack) inserts nothing the second time. A commit
/// whose wait for the synchronous standby was cancelled throws <see cref="NonDurableCommitException"/> (not acknowledged).
/// </summary>
internal sealed class FailureStoreWriter
{
    private readonly NpgsqlDataSource dataSource;
    private readonly string sql;

    public FailureStoreWriter(NpgsqlDataSource dataSource, string? schema = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        this.dataSource = dataSource;
        var table = FailureStoreTables.Failures(schema);
        sql = $"""
            INSERT INTO {table} (queue, dead_letter_queue, message_id, failure_key, consumer, message_type, headers, body,
                exception_type, exception_message, stack_trace, attempts, first_failure, last_failure, host, host_version,
                fingerprint, replay_id, ingested_at)
            SELECT * FROM unnest(@queue, @dlq, @id, @key, @consumer, @type, @headers, @body, @etype, @emessage, @stack,
                @attempts, @first, @last, @host, @version, @fingerprint, @replay, @ingested)
            ON CONFLICT (queue, dead_letter_queue, message_id, failure_key) DO NOTHING
            """;
    }

    /// <summary>Inserts <paramref name="batch"/>; returns how many rows were new (the rest were there already).</summary>
    public async Task<int> InsertAsync(IReadOnlyList<FailedMessage> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return 0;
        }

        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionDisposal = connection.ConfigureAwait(false);
        using var durable = DurableCommit.Watch(connection);
        // One implicit transaction: the insert, and an xid of its own so that its commit waits for the synchronous
        // standby even when every row was there already (a re-ingest after a commit whose standby wait was cancelled
        // must not be acknowledged before that earlier commit is replicated: its WAL precedes this commit record).
        var batchCommand = new NpgsqlBatch(connection);
        await using var batchDisposal = batchCommand.ConfigureAwait(false);
        var command = new NpgsqlBatchCommand(sql);
        batchCommand.BatchCommands.Add(command);
        batchCommand.BatchCommands.Add(new NpgsqlBatchCommand("SELECT pg_current_xact_id()"));
        Add(command, "queue", NpgsqlDbType.Text, batch.Select(m => m.Queue).ToArray());
        Add(command, "dlq", NpgsqlDbType.Text, batch.Select(m => m.DeadLetterQueue).ToArray());
        Add(command, "id", NpgsqlDbType.Text, batch.Select(m => m.MessageId).ToArray());
        Add(command, "key", NpgsqlDbType.Text, batch.Select(m => m.FailureKey).ToArray());
        Add(command, "consumer", NpgsqlDbType.Text, batch.Select(m => m.Consumer).ToArray());
        Add(command, "type", NpgsqlDbType.Text, batch.Select(m => m.MessageType).ToArray());
        Add(command, "headers", NpgsqlDbType.Jsonb, batch.Select(m => m.Headers).ToArray());
        Add(command, "body", NpgsqlDbType.Bytea, batch.Select(m => m.Body).ToArray());
        Add(command, "etype", NpgsqlDbType.Text, batch.Select(m => m.ExceptionType).ToArray());
        Add(command, "emessage", NpgsqlDbType.Text, batch.Select(m => m.ExceptionMessage).ToArray());
        Add(command, "stack", NpgsqlDbType.Text, batch.Select(m => m.StackTrace).ToArray());
        Add(command, "attempts", NpgsqlDbType.Integer, batch.Select(m => m.Attempts).ToArray());
        Add(command, "first", NpgsqlDbType.TimestampTz, batch.Select(m => m.FirstFailure?.UtcDateTime).ToArray());
        Add(command, "last", NpgsqlDbType.TimestampTz, batch.Select(m => m.LastFailure?.UtcDateTime).ToArray());
        Add(command, "host", NpgsqlDbType.Text, batch.Select(m => m.Host).ToArray());
        Add(command, "version", NpgsqlDbType.Text, batch.Select(m => m.HostVersion).ToArray());
        Add(command, "fingerprint", NpgsqlDbType.Text, batch.Select(m => m.Fingerprint).ToArray());
        Add(command, "replay", NpgsqlDbType.Text, batch.Select(m => m.ReplayId).ToArray());
        Add(command, "ingested", NpgsqlDbType.TimestampTz, batch.Select(m => m.IngestedAt.UtcDateTime).ToArray());
        await batchCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        durable.ThrowIfNotDurable(); // committed locally only: not acknowledged, the batch comes again
        return command.RecordsAffected;
    }

    private static void Add<T>(NpgsqlBatchCommand command, string name, NpgsqlDbType type, T[] values) =>
        command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | type) { Value = values });
}

/// <summary>Quoted, schema-qualified names of the failure store's tables.</summary>
internal static class FailureStoreTables
{
    public static string Failures(string? schema) => Qualify(schema, WorkersModelBuilderExtensions.FailuresTable);

    public static string History(string? schema) => Qualify(schema, WorkersModelBuilderExtensions.FailureHistoryTable);

    private static string Qualify(string? schema, string table) =>
        schema is null ? WorkersTables.Quote(table) : $"{WorkersTables.Quote(schema)}.{WorkersTables.Quote(table)}";
}
