using Npgsql;

namespace Workers.Postgres.Tests.Support;

/// <summary>Direct SQL for assertions.</summary>
public static class Db
{
    /// <summary>Outbox rows among <paramref name="ids"/> that meet <paramref name="condition"/> (bracketed: an OR in it cannot escape the id filter).</summary>
    public static Task<long> CountOutboxAsync(string connectionString, string condition, IReadOnlyList<Guid> ids, CancellationToken cancellationToken) =>
        ScalarAsync<long>(connectionString, $"SELECT count(*) FROM workers_outbox WHERE id = ANY(@ids) AND ({condition})", cancellationToken, ("ids", ids.ToArray()));

    public static async Task<T> ScalarAsync<T>(string connectionString, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var result = await command.ExecuteScalarAsync(cancellationToken);
        return result is DBNull or null ? default! : (T)Convert.ChangeType(result, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>number → how many effect rows, for one run.</summary>
    public static async Task<Dictionary<int, int>> EffectsAsync(string connectionString, Guid run, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT number, count(*) FROM effects WHERE run = @run GROUP BY number", connection);
        command.Parameters.AddWithValue("run", run);
        var result = new Dictionary<int, int>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result[reader.GetInt32(0)] = (int)reader.GetInt64(1);
        }

        return result;
    }

    /// <summary>Duplicates absorbed by the inbox for the given message ids.</summary>
    public static async Task<long> DuplicatesAsync(string connectionString, IReadOnlyCollection<Guid> messageIds, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT coalesce(sum(duplicates), 0) FROM workers_inbox WHERE message_id = ANY(@ids)", connection);
        command.Parameters.AddWithValue("ids", messageIds.ToArray());
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }
}
