using System.CommandLine;
using Npgsql;

namespace Workers.Cli.Migrate;

/// <summary>
/// The seam to the outbox/inbox schema of Workers.Postgres: one call that applies it to a database and says what it did.
/// </summary>
internal delegate Task<string> ApplySchema(string connectionString, CancellationToken cancellationToken);

/// <summary><c>workers migrate</c>: creates the database when missing, then applies the outbox/inbox schema.</summary>
internal static class MigrateCommand
{
    /// <summary>The schema step: the outbox (with its ordering-key table), inbox and failure-store tables, the NOTIFY and key-position triggers; idempotent.</summary>
    internal static ApplySchema Schema { get; set; } = async (connectionString, cancellationToken) =>
    {
        await Workers.Postgres.WorkersSchema.ApplyAsync(connectionString, schema: null, cancellationToken).ConfigureAwait(false);
        return $"outbox/inbox schema: applied ({Workers.Postgres.WorkersModelBuilderExtensions.OutboxTable}, {Workers.Postgres.WorkersModelBuilderExtensions.InboxTable}).{Environment.NewLine}"
            + $"failure store: applied ({Workers.Postgres.WorkersModelBuilderExtensions.FailuresTable}, {Workers.Postgres.WorkersModelBuilderExtensions.FailureHistoryTable}).";
    };

    public static Command Create(CliConsole console, ConnectionSettings connections)
    {
        var command = new Command("migrate", "Create the database if missing and apply the outbox/inbox/failure-store schema.");
        command.SetAction(async (parse, cancellationToken) =>
        {
            var connectionString = connections.GetPostgres(parse, console);
            var database = new NpgsqlConnectionStringBuilder(connectionString).Database
                ?? throw CliException.Usage("--postgres must name a Database.");
            var created = await EnsureDatabaseAsync(connectionString, database, cancellationToken);
            await console.Out.WriteLineAsync(created ? $"database '{database}': created." : $"database '{database}': exists.");
            await console.Out.WriteLineAsync(await Schema(connectionString, cancellationToken));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Creates the database through the server's maintenance database; true when it was created.</summary>
    internal static async Task<bool> EnsureDatabaseAsync(string connectionString, string database, CancellationToken cancellationToken)
    {
        var maintenance = new NpgsqlConnectionStringBuilder(connectionString) { Database = "postgres", Pooling = false }.ConnectionString;
        await using var connection = new NpgsqlConnection(maintenance);
        await connection.OpenAsync(cancellationToken);
        await using (var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection))
        {
            exists.Parameters.AddWithValue("name", database);
            if (await exists.ExecuteScalarAsync(cancellationToken) is not null)
            {
                return false;
            }
        }

        var quoted = "\"" + database.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        await using var create = new NpgsqlCommand($"CREATE DATABASE {quoted}", connection);
        try
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.DuplicateDatabase)
        {
            return false;
        }

        return true;
    }
}
