using System.Diagnostics;
using Npgsql;

namespace Workers.Benchmarks.Infrastructure;

/// <summary>
/// How fast this machine is right now, measured before the rounds: the broker ceiling (raw client, publish and
/// consume at once) and pgbench-style commit rates (single-row INSERT + COMMIT round trips on one connection, and on many at once).
/// </summary>
internal static class Calibration
{
    /// <summary>
    /// pgbench-style commit rate: <paramref name="connections"/> Npgsql connections, each running single-row
    /// INSERT + COMMIT round trips (autocommit, prepared) in a loop, <paramref name="count"/> in all. One connection is
    /// the sequential commit rate; many are PostgreSQL's ceiling for one transaction per message at that concurrency
    /// (concurrent commits share WAL flushes).
    /// </summary>
    public static async Task<double> CommitRateAsync(int count, int connections, CancellationToken cancellationToken)
    {
        await using var database = await BenchDatabase.CreateAsync("calibration", cancellationToken).ConfigureAwait(false);
        await database.ExecuteAsync("create table commits (id bigint primary key, payload text not null)", cancellationToken).ConfigureAwait(false);
        var perConnection = Math.Max(1, count / connections);
        var opened = new List<NpgsqlConnection>(connections);
        try
        {
            for (var k = 0; k < connections; k++)
            {
                var connection = new NpgsqlConnection(database.ConnectionString + ";Pooling=false");
                opened.Add(connection);
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            }

            var started = Stopwatch.GetTimestamp();
            await Task.WhenAll(opened.Select((connection, k) => CommitLoopAsync(connection, (long)k * perConnection, perConnection, cancellationToken))).ConfigureAwait(false);
            return perConnection * connections / Stopwatch.GetElapsedTime(started).TotalSeconds;
        }
        finally
        {
            foreach (var connection in opened)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task CommitLoopAsync(NpgsqlConnection connection, long firstId, int count, CancellationToken cancellationToken)
    {
        await using var insert = new NpgsqlCommand("insert into commits (id, payload) values ($1, $2)", connection);
        var id = new NpgsqlParameter<long> { TypedValue = 0 };
        insert.Parameters.Add(id);
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "calibration" });
        await insert.PrepareAsync(cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < count; i++)
        {
            id.TypedValue = firstId + i;
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false); // autocommit: one INSERT + COMMIT
        }
    }

    /// <summary>
    /// The outbox baseline: what an outbox costs at least — per message one transaction holding a business row and
    /// an outbox row, <paramref name="window"/> transactions at once, no broker involved.
    /// </summary>
    /// <param name="count">Transactions.</param>
    /// <param name="window">Transactions in flight at once.</param>
    /// <param name="notify">Give the outbox table a statement trigger calling <c>pg_notify</c>, as the Workers outbox
    /// table has (NOTIFY takes a database-wide lock at commit, so such commits no longer overlap).</param>
    /// <param name="cancellationToken">Cancels.</param>
    public static async Task<double> OutboxBaselineAsync(int count, int window, bool notify, CancellationToken cancellationToken)
    {
        await using var database = await BenchDatabase.CreateAsync("outbox", cancellationToken).ConfigureAwait(false);
        await database.ExecuteAsync(
            "create table business_rows (id bigint primary key, payload text not null);" +
            "create table outbox (id bigint primary key, body jsonb not null, created timestamptz not null default now())",
            cancellationToken).ConfigureAwait(false);
        if (notify)
        {
            await database.ExecuteAsync(
                "create function outbox_notify() returns trigger language plpgsql as $$ begin perform pg_notify('outbox', ''); return null; end $$;" +
                "create trigger outbox_notify after insert on outbox for each statement execute function outbox_notify()",
                cancellationToken).ConfigureAwait(false);
        }

        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        var body = System.Text.Json.JsonSerializer.Serialize(BenchMessage.Create(0));
        var started = Stopwatch.GetTimestamp();
        await Load.RunAsync(count, window, async (i, ct) =>
        {
            await using var connection = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            await using var batch = new NpgsqlBatch(connection, transaction)
            {
                BatchCommands =
                {
                    new NpgsqlBatchCommand("insert into business_rows (id, payload) values ($1, $2)") { Parameters = { new() { Value = i }, new() { Value = BenchMessage.DefaultPayload } } },
                    new NpgsqlBatchCommand("insert into outbox (id, body) values ($1, $2::jsonb)") { Parameters = { new() { Value = i }, new() { Value = body } } },
                },
            };
            await batch.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        return count / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }
}
