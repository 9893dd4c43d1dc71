using System.Text;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Workers.Postgres.Storage;

/// <summary>
/// Generates the idempotent schema script of the Workers tables from the EF Core model
/// (<c>GenerateCreateScript</c> on a context holding only those tables, rewritten to <c>IF NOT EXISTS</c>),
/// plus the NOTIFY trigger that wakes the dispatchers on commit.
/// </summary>
internal static partial class WorkersSchemaScript
{
    public static string Generate(WorkersTables tables)
    {
        ArgumentNullException.ThrowIfNull(tables);
        var options = new DbContextOptionsBuilder<SchemaContext>()
            .UseNpgsql()
            .ReplaceService<IModelCacheKeyFactory, SchemaModelCacheKeyFactory>()
            .Options;
        using var context = new SchemaContext(options, tables.Schema, tables.HasOutbox, tables.HasInbox);
        var script = context.Database.GenerateCreateScript();
        script = CreateTable().Replace(script, "CREATE TABLE IF NOT EXISTS ");
        script = CreateIndex().Replace(script, "CREATE ${unique}INDEX IF NOT EXISTS ");

        var builder = new StringBuilder(script);
        if (tables.HasOutbox)
        {
            AppendOutboxUpgrades(builder, tables);
            var function = tables.Schema is null ? "workers_outbox_notify" : $"{WorkersTables.Quote(tables.Schema)}.workers_outbox_notify";
            builder.AppendLine()
                .AppendLine($"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $W$ BEGIN PERFORM pg_notify('{tables.Channel}', ''); RETURN NULL; END $W$;")
                .AppendLine($"CREATE OR REPLACE TRIGGER workers_outbox_notify AFTER INSERT ON {tables.Outbox} FOR EACH STATEMENT EXECUTE FUNCTION {function}();");
        }

        return builder.ToString();
    }

    /// <summary>
    /// Columns added after the table's first release (a database created by an older version gets them; a new one
    /// already has them and the statements do nothing), and the quarantine view. Idempotent.
    /// </summary>
    private static void AppendOutboxUpgrades(StringBuilder builder, WorkersTables tables)
    {
        var outbox = tables.Outbox;
        builder.AppendLine()
            .AppendLine($"ALTER TABLE {outbox} ADD COLUMN IF NOT EXISTS dispatch_failures integer NOT NULL DEFAULT 0;")
            .AppendLine($"ALTER TABLE {outbox} ALTER COLUMN dispatch_failures SET DEFAULT 0;")
            .AppendLine($"ALTER TABLE {outbox} ADD COLUMN IF NOT EXISTS quarantined_at timestamp with time zone;")
            .AppendLine($"ALTER TABLE {outbox} ADD COLUMN IF NOT EXISTS quarantine_reason text;")
            .AppendLine($"""
                CREATE OR REPLACE VIEW {tables.OutboxQuarantine} AS
                SELECT q.id, q.message_type, q.destination, q.ordering_key, q.created_at, q.attempts, q.dispatch_failures,
                       q.quarantined_at, q.quarantine_reason,
                       (SELECT count(*) FROM {outbox} h
                        WHERE q.ordering_key IS NOT NULL AND h.ordering_key = q.ordering_key AND h.dispatched_at IS NULL AND h.quarantined_at IS NULL) AS held_rows
                FROM {outbox} q
                WHERE q.quarantined_at IS NOT NULL AND q.dispatched_at IS NULL;
                """);
    }

    [GeneratedRegex(@"CREATE TABLE (?!IF NOT EXISTS)", RegexOptions.CultureInvariant)]
    private static partial Regex CreateTable();

    [GeneratedRegex(@"CREATE (?<unique>UNIQUE )?INDEX (?!IF NOT EXISTS)", RegexOptions.CultureInvariant)]
    private static partial Regex CreateIndex();

    private sealed class SchemaContext(DbContextOptions<SchemaContext> options, string? schema, bool outbox, bool inbox) : DbContext(options)
    {
        public string Key => $"{schema}|{outbox}|{inbox}";

        protected override void OnModelCreating(ModelBuilder modelBuilder)
        {
            if (outbox)
            {
                modelBuilder.AddWorkersOutbox(schema);
            }

            if (inbox)
            {
                modelBuilder.AddWorkersInbox(schema);
            }
        }
    }

    private sealed class SchemaModelCacheKeyFactory : IModelCacheKeyFactory
    {
        public object Create(DbContext context, bool designTime) =>
            context is SchemaContext schema ? (schema.Key, designTime) : (context.GetType(), designTime);
    }
}
