using System.Globalization;
using Npgsql;

namespace Workers.FaultTests;

/// <summary>The consumer's effects as the database holds them (<c>sample_effects</c>), counted per order and kind.</summary>
/// <remarks>
/// Unpooled: a pooled connection to a primary killed by a scenario would fail the next read; a fresh one goes (through
/// a multi-host, primary-only connection string) to the current primary.
/// </remarks>
internal sealed class EffectLedger
{
    private readonly string connectionString;

    public EffectLedger(string connectionString) =>
        this.connectionString = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString;

    public Dictionary<Guid, int> Accepted { get; private set; } = [];

    public Dictionary<Guid, int> Notified { get; private set; } = [];

    /// <summary>Re-reads the table (a missing table = nothing applied yet).</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var accepted = new Dictionary<Guid, int>();
        var notified = new Dictionary<Guid, int>();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT order_id, kind, count(*)::int FROM sample_effects GROUP BY order_id, kind", connection);
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var target = reader.GetString(1) switch
                {
                    "accepted" => accepted,
                    "notified" => notified,
                    var other => throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"unknown effect kind '{other}'")),
                };
                target[reader.GetGuid(0)] = reader.GetInt32(2);
            }
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UndefinedTable)
        {
        }

        Accepted = accepted;
        Notified = notified;
    }
}
