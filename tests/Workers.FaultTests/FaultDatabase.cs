using Npgsql;
using Workers.Testing;

namespace Workers.FaultTests;

/// <summary>A scenario's own database (effects, inbox, outbox): on the shared server, or on a primary + standby pair.</summary>
internal interface IFaultDatabase : IAsyncDisposable
{
    /// <summary>What the workers and the effect ledger connect with.</summary>
    string ConnectionString { get; }
}

/// <summary>A database of its own on the shared PostgreSQL (<c>WORKERS_POSTGRES</c>), dropped at the end.</summary>
internal sealed class SharedFaultDatabase : IFaultDatabase
{
    private readonly PostgresTestDatabase database = new();

    private SharedFaultDatabase()
    {
    }

    public string ConnectionString => database.ConnectionString;

    public static async Task<IFaultDatabase> CreateAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var created = new SharedFaultDatabase();
        await created.database.InitializeAsync();
        return created;
    }

    public ValueTask DisposeAsync() => database.DisposeAsync();
}

/// <summary>
/// A database of its own on a <see cref="LocalPostgresReplicaSet"/> (created on the primary, replicated synchronously),
/// reached through the set's multi-host, primary-only connection string: after a failover it leads to the new primary.
/// Goes away with the replica set.
/// </summary>
internal sealed class ReplicaSetFaultDatabase : IFaultDatabase
{
    private ReplicaSetFaultDatabase(string connectionString) => ConnectionString = connectionString;

    public string ConnectionString { get; }

    public static async Task<IFaultDatabase> CreateAsync(LocalPostgresReplicaSet replicaSet, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(replicaSet);
        var name = $"fault_{Guid.NewGuid():N}"[..24];
        await using (var connection = new NpgsqlConnection(replicaSet.NodeConnectionString(replicaSet.PrimaryPort)))
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        return new ReplicaSetFaultDatabase(new NpgsqlConnectionStringBuilder(replicaSet.ConnectionString) { Database = name }.ConnectionString);
    }

    public ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// A database of its own on the automatic-failover formation (<see cref="LocalPostgresAutoFailover"/>), reached through
/// the manager's multi-host URI: after the manager fails over it leads to whichever node it promoted. Dropped at the end.
/// </summary>
internal sealed class AutoFailoverFaultDatabase : IFaultDatabase
{
    private readonly LocalPostgresAutoFailover formation;

    private AutoFailoverFaultDatabase(LocalPostgresAutoFailover formation, string connectionString)
    {
        this.formation = formation;
        ConnectionString = connectionString;
    }

    public string ConnectionString { get; }

    public static async Task<IFaultDatabase> CreateAsync(LocalPostgresAutoFailover formation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(formation);
        return new AutoFailoverFaultDatabase(formation, await formation.CreateDatabaseAsync("fault", cancellationToken));
    }

    public async ValueTask DisposeAsync() => await formation.DropDatabaseAsync(ConnectionString);
}

/// <summary>Reads from a scenario's database server.</summary>
internal static class FaultDatabaseServer
{
    /// <summary>The port of the server a fresh (unpooled) session on <paramref name="connectionString"/> reaches: which node is primary.</summary>
    public static async Task<int> PortAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT inet_server_port()", connection);
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
