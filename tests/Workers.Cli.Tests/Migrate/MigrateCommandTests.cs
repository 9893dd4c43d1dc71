using Npgsql;
using Workers.Cli.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Cli.Tests.Migrate;

public sealed class MigrateCommandTests
{
    [Fact]
    public async Task Migrate_CreatesAMissingDatabase_ThenFindsItExisting()
    {
        var server = await PostgresTestDatabase.GetServerConnectionStringAsync(TestContext.Current.CancellationToken);
        var name = $"workers_cli_{Guid.NewGuid():N}"[..30];
        var target = new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
        try
        {
            var first = await CliRunner.RunAsync(["migrate", "--postgres", target], cancellationToken: TestContext.Current.CancellationToken);
            var second = await CliRunner.RunAsync(["migrate", "--postgres", target], cancellationToken: TestContext.Current.CancellationToken);

            Assert.True(first.ExitCode == 0, first.ToString());
            Assert.Contains($"database '{name}': created.", first.Output, StringComparison.Ordinal);
            Assert.True(second.ExitCode == 0, second.ToString());
            Assert.Contains($"database '{name}': exists.", second.Output, StringComparison.Ordinal);
            Assert.Contains("outbox/inbox schema: applied", second.Output, StringComparison.Ordinal);
            await using var check = new NpgsqlConnection(target);
            await check.OpenAsync(TestContext.Current.CancellationToken);
            await using var tables = new NpgsqlCommand("select count(*)::int from information_schema.tables where table_name in ('workers_outbox', 'workers_inbox')", check);
            Assert.Equal(2, (int)(await tables.ExecuteScalarAsync(TestContext.Current.CancellationToken))!);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await using var connection = new NpgsqlConnection(server);
            await connection.OpenAsync(TestContext.Current.CancellationToken);
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task Migrate_UnreachableServer_FailsWithOneLine_AndNoPassword()
    {
        var result = await CliRunner.RunAsync(["migrate", "--postgres", "Host=127.0.0.1;Port=1;Username=postgres;Password=pg-secret-99;Database=x;Timeout=3"], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(1, result.ExitCode);
        Assert.True(result.HasOneLineError, result.ToString());
        Assert.DoesNotContain("pg-secret-99", result.Error, StringComparison.Ordinal);
    }
}
