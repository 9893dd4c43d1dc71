using Npgsql;

using Workers.Postgres.FailureStore;

namespace Workers.Postgres;

/// <summary>One failure group: failures sharing a fingerprint (<see cref="WorkersFailureStore.FingerprintOf"/>), with an example of its members.</summary>
/// <param name="Fingerprint">The group's fingerprint (16 hex digits).</param>
/// <param name="Count">How many failures of the selected statuses it holds.</param>
/// <param name="FirstSeen">Its earliest failure.</param>
/// <param name="LastSeen">Its latest failure.</param>
/// <param name="ExceptionType">The exception type of its first stored member.</param>
/// <param name="ExceptionMessage">The exception message of its first stored member.</param>
/// <param name="Consumer">The consumer.</param>
/// <param name="Queue">The endpoint queue of its first stored member.</param>
/// <param name="MessageType">The message type of its first stored member.</param>
/// <param name="FirstSeenVersion">The application version of its first stored member.</param>
public sealed record FailureGroup(
    string Fingerprint,
    long Count,
    DateTimeOffset? FirstSeen,
    DateTimeOffset? LastSeen,
    string? ExceptionType,
    string? ExceptionMessage,
    string? Consumer,
    string Queue,
    string? MessageType,
    string? FirstSeenVersion);

/// <summary>What <c>workers dlq groups</c> asks the store for.</summary>
/// <param name="Statuses">The statuses counted (<see cref="FailureStatus"/>).</param>
/// <param name="Queue">Only this endpoint queue's failures, or all.</param>
/// <param name="NewSinceVersion">Only groups whose first failure is not earlier than the first failure from a host at this version.</param>
/// <param name="Limit">At most this many groups, largest first.</param>
public sealed record FailureGroupQuery(IReadOnlyList<string> Statuses, string? Queue = null, string? NewSinceVersion = null, int Limit = 50);

/// <summary>
/// The failure store's read side (tables created by <see cref="WorkersSchema"/>, rows written by the failure-store ingester
/// of Workers.Hosting). Groups: counts by fingerprint over the status index (index-only), then one example
/// row per group for its exception, consumer and queue. "New since version X": groups whose first failure is not earlier
/// than the first failure recorded from a host at version X, i.e. that appeared once X was running.
/// </summary>
public static class WorkersFailureStore
{
    /// <summary>
    /// The fingerprint of a dead letter from its fault headers: exception type + the normalised top frames of the
    /// application's own code + consumer (see the Workers.Postgres README). The ingester stores it; the CLI's queue
    /// engine computes the same for a queue without a store.
    /// </summary>
    /// <param name="deadLetterQueue">The dead-letter queue the message is in (<c>_skipped</c> ones group as <c>skipped</c> without an exception).</param>
    /// <param name="headers">The message's AMQP headers.</param>
    /// <returns>16 lower-case hex digits.</returns>
    public static string FingerprintOf(string deadLetterQueue, IDictionary<string, object?>? headers)
    {
        ArgumentException.ThrowIfNullOrEmpty(deadLetterQueue);
        return DeadLetterRecord.FingerprintOf(deadLetterQueue, headers ?? new Dictionary<string, object?>());
    }

    /// <summary>The failure groups matching <paramref name="query"/>, largest first.</summary>
    /// <param name="connection">An open connection to the store's database.</param>
    /// <param name="query">Statuses, queue, version and limit.</param>
    /// <param name="schema">The store's schema, or null for <c>public</c>.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The groups.</returns>
    public static async Task<IReadOnlyList<FailureGroup>> ReadGroupsAsync(NpgsqlConnection connection, FailureGroupQuery query, string? schema, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(query);
        var table = FailureStoreTables.Failures(schema);
        var queueFilter = query.Queue is null ? string.Empty : " AND queue = @queue";
        var since = query.NewSinceVersion is null
            ? string.Empty
            : $" HAVING min(coalesce(first_failure, last_failure)) >= (SELECT min(coalesce(first_failure, last_failure)) FROM {table} WHERE host_version = @version)";
        var sql = $"""
            WITH counts AS (
                SELECT fingerprint, count(*) AS n, min(coalesce(first_failure, last_failure)) AS first_seen, max(last_failure) AS last_seen
                FROM {table}
                WHERE status = ANY(@statuses){queueFilter}
                GROUP BY fingerprint{since}
                ORDER BY count(*) DESC, fingerprint
                LIMIT @limit)
            SELECT c.fingerprint, c.n, c.first_seen, c.last_seen, e.exception_type, e.exception_message, e.consumer, e.queue, e.message_type, e.host_version
            FROM counts c
            CROSS JOIN LATERAL (
                SELECT f.exception_type, f.exception_message, f.consumer, f.queue, f.message_type, f.host_version
                FROM {table} f WHERE f.fingerprint = c.fingerprint ORDER BY f.id LIMIT 1) e
            ORDER BY c.n DESC, c.fingerprint
            """;
        var command = new NpgsqlCommand(sql, connection);
        await using var commandDisposal = command.ConfigureAwait(false);
        command.Parameters.AddWithValue("statuses", query.Statuses.ToArray());
        command.Parameters.AddWithValue("limit", query.Limit);
        if (query.Queue is not null)
        {
            command.Parameters.AddWithValue("queue", query.Queue);
        }

        if (query.NewSinceVersion is not null)
        {
            command.Parameters.AddWithValue("version", query.NewSinceVersion);
        }

        var groups = new List<FailureGroup>();
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerDisposal = reader.ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            groups.Add(new FailureGroup(
                reader.GetString(0),
                reader.GetInt64(1),
                Time(reader, 2),
                Time(reader, 3),
                Text(reader, 4),
                Text(reader, 5),
                Text(reader, 6),
                reader.GetString(7),
                Text(reader, 8),
                Text(reader, 9)));
        }

        return groups;
    }

    /// <summary>Whether the failure store's tables exist in <paramref name="schema"/> (<c>public</c> when null).</summary>
    /// <param name="connection">An open connection.</param>
    /// <param name="schema">The schema, or null for <c>public</c>.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>True when <c>workers_failures</c> exists.</returns>
    public static async Task<bool> ExistsAsync(NpgsqlConnection connection, string? schema, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var command = new NpgsqlCommand("SELECT to_regclass(@name) IS NOT NULL", connection);
        await using var commandDisposal = command.ConfigureAwait(false);
        command.Parameters.AddWithValue("name", FailureStoreTables.Failures(schema));
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true;
    }

    private static DateTimeOffset? Time(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(ordinal), DateTimeKind.Utc));

    private static string? Text(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
