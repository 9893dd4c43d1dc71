using Npgsql;

namespace Workers.Benchmarks.Infrastructure;

/// <summary>A throwaway PostgreSQL database for one measurement, dropped at the end.</summary>
internal sealed class BenchDatabase : IAsyncDisposable
{
    private BenchDatabase(string name, string connectionString)
    {
        Name = name;
        ConnectionString = connectionString;
    }

    public string Name { get; }

    public string ConnectionString { get; }

    public static async Task<BenchDatabase> CreateAsync(string purpose, CancellationToken cancellationToken)
    {
        var name = $"workers_bench_{purpose}_{Guid.NewGuid():N}"[..40];
        await using (var admin = new NpgsqlConnection(BenchEnvironment.Postgres))
        {
            await admin.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var create = new NpgsqlCommand($"create database \"{name}\"", admin);
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var builder = new NpgsqlConnectionStringBuilder(BenchEnvironment.Postgres) { Database = name, MaxPoolSize = 200 };
        return new BenchDatabase(name, builder.ConnectionString);
    }

    public async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(BenchEnvironment.Postgres);
        await admin.OpenAsync().ConfigureAwait(false);
        await using var drop = new NpgsqlCommand($"drop database if exists \"{Name}\" with (force)", admin);
        await drop.ExecuteNonQueryAsync().ConfigureAwait(false);
    }
}
