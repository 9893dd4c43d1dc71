using Npgsql;

namespace Workers.Postgres.Tests.Failover;

/// <summary>What the primary's backends are doing (pg_stat_activity), as signals for the drills.</summary>
internal static class PrimaryActivity
{
    /// <summary>
    /// Transaction ids of the dispatcher's claim statements (the CTE named <c>candidates</c>) now waiting for the
    /// synchronous standby: their commit record is written, the claim is not yet visible, nothing is published.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ClaimsWaitingForStandbyAsync(string primary, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(primary);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT backend_xid::text FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND query LIKE '%candidates AS%' AND backend_xid IS NOT NULL",
            connection);
        var xids = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            xids.Add(reader.GetString(0));
        }

        return xids;
    }
}
