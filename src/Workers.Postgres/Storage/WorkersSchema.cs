using Microsoft.EntityFrameworkCore;
using Npgsql;
using Workers.Postgres.Storage;

namespace Workers.Postgres;

/// <summary>
/// Creates the Workers tables (outbox, inbox, failure store, NOTIFY trigger) that the given context maps, idempotently:
/// a <c>CREATE ... IF NOT EXISTS</c> script generated from the EF Core model, applied in one transaction under
/// an advisory lock so concurrent replicas starting together do not race. Used by <c>workers migrate</c>
/// and, optionally, at host start (<see cref="OutboxOptions.ApplySchemaOnStartup"/>). Applications with their own
/// EF migrations may instead let their migrations create the tables (the entities are part of their model) and
/// still call this for the trigger: it leaves existing tables alone.
/// </summary>
public static class WorkersSchema
{
    private const long AdvisoryLockKey = 0x576F726B657273; // "Workers"

    /// <summary>The idempotent SQL script for the Workers tables mapped in <paramref name="context"/>'s model.</summary>
    /// <param name="context">A context whose <c>OnModelCreating</c> called <c>AddWorkersOutbox</c> and/or <c>AddWorkersInbox</c>.</param>
    /// <returns>The SQL script.</returns>
    public static string GenerateScript(DbContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var tables = WorkersTables.From(context);
        if (!tables.HasOutbox && !tables.HasInbox && !tables.HasFailureStore)
        {
            throw new InvalidOperationException($"{context.GetType().Name} maps no Workers table: call modelBuilder.AddWorkersOutbox(), AddWorkersInbox() and/or AddWorkersFailureStore() in OnModelCreating.");
        }

        return WorkersSchemaScript.Generate(tables);
    }

    /// <summary>Applies <see cref="GenerateScript"/> to the context's database (retried through the context's execution strategy).</summary>
    /// <param name="context">A context whose model maps the Workers tables.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the schema exists.</returns>
    public static async Task ApplyAsync(DbContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var script = GenerateScript(context);
        var strategy = context.Database.CreateExecutionStrategy();
        await strategy.ExecuteAsync(
            async ct =>
            {
                var transaction = await context.Database.BeginTransactionAsync(ct).ConfigureAwait(false);
                await using var transactionDisposal = transaction.ConfigureAwait(false);
                await ContextCommands.ExecuteAsync(context, $"SELECT pg_advisory_xact_lock({AdvisoryLockKey})", ct).ConfigureAwait(false);
                await ContextCommands.ExecuteAsync(context, script, ct).ConfigureAwait(false);
                await transaction.CommitAsync(ct).ConfigureAwait(false);
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Applies the schema with a connection string (for the CLI), using a throwaway context that maps every Workers table (outbox, inbox, failure store).</summary>
    /// <param name="connectionString">Npgsql connection string (multi-host allowed).</param>
    /// <param name="schema">Database schema, or null for <c>public</c>.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the schema exists.</returns>
    public static async Task ApplyAsync(string connectionString, string? schema = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _ = new NpgsqlConnectionStringBuilder(connectionString);
        var builder = new DbContextOptionsBuilder<StandaloneContext>();
        builder.UseWorkersPostgres(connectionString);
        builder.ReplaceService<Microsoft.EntityFrameworkCore.Infrastructure.IModelCacheKeyFactory, StandaloneContext.KeyFactory>();
        var options = builder.Options;
        var context = new StandaloneContext(options, schema);
        await using var contextDisposal = context.ConfigureAwait(false);
        await ApplyAsync(context, cancellationToken).ConfigureAwait(false);
    }

    private sealed class StandaloneContext(DbContextOptions<StandaloneContext> options, string? schema) : DbContext(options)
    {
        public string? Schema => schema;

        protected override void OnModelCreating(ModelBuilder modelBuilder) =>
            modelBuilder.AddWorkersOutbox(schema).AddWorkersInbox(schema).AddWorkersFailureStore(schema);

        internal sealed class KeyFactory : Microsoft.EntityFrameworkCore.Infrastructure.IModelCacheKeyFactory
        {
            public object Create(DbContext context, bool designTime) =>
                context is StandaloneContext s ? (typeof(StandaloneContext), s.Schema, designTime) : (context.GetType(), designTime);
        }
    }
}
