using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace Workers.Postgres.Storage;

/// <summary>Raw Npgsql commands on a context's own connection, inside its current transaction when there is one.</summary>
internal static class ContextCommands
{
    public static async Task<NpgsqlCommand> CreateAsync(DbContext context, string sql, CancellationToken cancellationToken)
    {
        await context.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var connection = (NpgsqlConnection)context.Database.GetDbConnection();
        var command = new NpgsqlCommand(sql, connection)
        {
            Transaction = context.Database.CurrentTransaction?.GetDbTransaction() as NpgsqlTransaction,
        };
        if (context.Database.GetCommandTimeout() is { } timeout)
        {
            command.CommandTimeout = timeout;
        }

        return command;
    }

    public static async Task<int> ExecuteAsync(DbContext context, string sql, CancellationToken cancellationToken, params NpgsqlParameter[] parameters)
    {
        var command = await CreateAsync(context, sql, cancellationToken).ConfigureAwait(false);
        await using var commandDisposal = command.ConfigureAwait(false);
        command.Parameters.AddRange(parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
