using System.Globalization;
using Npgsql;

namespace Workers.Postgres.FailureStore;

/// <summary>One failure group: failures sharing a <see cref="FailureFingerprint"/>, with an example of its members.</summary>
internal sealed record FailureGroup(
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
internal sealed record FailureGroupQuery(IReadOnlyList<string> Statuses, string? Queue = null, string? NewSinceVersion = null, int Limit = 50);

/// <summary>
/// Reads failure groups from the store: counts by fingerprint over the status index (index-only), then one example
/// row per group for its exception, consumer and queue. "New since version X": groups whose first failure is not earlier
/// than the first failure recorded from a host at version X, i.e. that appeared once X was running.
/// </summary>
internal static class FailureGroups
{
    public static async Task<IReadOnlyList<FailureGroup>> ReadAsync(NpgsqlConnection connection, FailureGroupQuery query, string? schema, CancellationToken cancellationToken)
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
    public static async Task<bool> StoreExistsAsync(NpgsqlConnection connection, string? schema, CancellationToken cancellationToken)
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

    internal static string Format(DateTimeOffset? time) => time?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) ?? "?";
}
