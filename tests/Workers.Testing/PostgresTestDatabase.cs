using Npgsql;
using Testcontainers.PostgreSql;
using Xunit;

namespace Workers.Testing;

/// <summary>
/// A database of its own for one test class: created on start, dropped at the end.
/// Use as <c>IClassFixture&lt;PostgresTestDatabase&gt;</c>.
/// </summary>
public sealed class PostgresTestDatabase : IAsyncLifetime
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static string? serverConnectionString;
    private static PostgreSqlContainer? container;

    /// <summary>The database's name (unique per instance).</summary>
    public string Name { get; } = $"workers_test_{Guid.NewGuid():N}"[..32];

    /// <summary>Connection string to this database.</summary>
    public string ConnectionString { get; private set; } = null!;

    /// <summary>Connection string of the server's maintenance database.</summary>
    public static async Task<string> GetServerConnectionStringAsync(CancellationToken cancellationToken = default)
    {
        if (serverConnectionString is not null)
        {
            return serverConnectionString;
        }

        await Gate.WaitAsync(cancellationToken);
        try
        {
            if (serverConnectionString is not null)
            {
                return serverConnectionString;
            }

            var configured = TestEnvironment.Get(TestEnvironment.PostgresVariable);
            if (configured is null)
            {
                if (!TestEnvironment.DockerAvailable())
                {
                    throw TestEnvironment.Missing("PostgreSQL server", TestEnvironment.PostgresVariable);
                }

                container = new PostgreSqlBuilder("postgres:15").Build();
                await container.StartAsync(cancellationToken);
                configured = container.GetConnectionString();
            }

            serverConnectionString = new NpgsqlConnectionStringBuilder(configured) { Database = "postgres", Pooling = false }.ConnectionString;
            return serverConnectionString;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        var server = await GetServerConnectionStringAsync();
        await using (var connection = new NpgsqlConnection(server))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{Name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }

        ConnectionString = new NpgsqlConnectionStringBuilder(server) { Database = Name, Pooling = true }.ConnectionString;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (serverConnectionString is null)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(serverConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }
}
