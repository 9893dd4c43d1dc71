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
        using var context = new SchemaContext(options, tables.Schema, tables.HasOutbox, tables.HasInbox, tables.HasFailureStore);
        var script = context.Database.GenerateCreateScript();
        script = CreateTable().Replace(script, "CREATE TABLE IF NOT EXISTS ");
        script = CreateIndex().Replace(script, "CREATE ${unique}INDEX IF NOT EXISTS ");

        var builder = new StringBuilder();
        if (tables.HasOutbox)
        {
            // Columns that the model's indexes need, added to a table created by an older version before the indexes are.
            builder.AppendLine($"ALTER TABLE IF EXISTS {tables.Outbox} ADD COLUMN IF NOT EXISTS key_position bigint NOT NULL DEFAULT 0;");
        }

        builder.Append(script);
        if (tables.HasOutbox)
        {
            AppendOutboxUpgrades(builder, tables);
            AppendKeyPositions(builder, tables);
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

    /// <summary>
    /// The ordering keys' commit order (issue 19.3): a BEFORE INSERT trigger on keyed rows upserts the key's row in
    /// <c>workers_outbox_keys</c> — which locks it until the transaction ends, so transactions staging for one key
    /// serialize — and only then, holding that lock, draws the transaction's position for the key from a sequence (the
    /// rows of one transaction share it). A transaction that commits later for a key therefore always carries a larger
    /// position, whatever the staging processes' clocks say. Rows without a key skip the trigger (its WHEN clause).
    /// Idempotent.
    /// </summary>
    private static void AppendKeyPositions(StringBuilder builder, WorkersTables tables)
    {
        var function = tables.Beside("workers_outbox_key_position");
        var sequence = tables.OutboxKeyPositionSequence;
        var sequenceLiteral = sequence.Replace("'", "''", StringComparison.Ordinal);
        builder.AppendLine()
            .AppendLine($"ALTER TABLE {tables.Outbox} ALTER COLUMN key_position SET DEFAULT 0;")
            .AppendLine($"DROP INDEX IF EXISTS {tables.Beside("ix_workers_outbox_ordering")};")
            .AppendLine($"CREATE SEQUENCE IF NOT EXISTS {sequence} AS bigint;")
            .AppendLine($"CREATE TABLE IF NOT EXISTS {tables.OutboxKeys} (ordering_key text NOT NULL CONSTRAINT pk_workers_outbox_keys PRIMARY KEY, last_position bigint, last_xact xid8);")
            .AppendLine($"""
                CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $W$
                DECLARE
                    holder xid8;
                    assigned bigint;
                BEGIN
                    -- Lock the key's row (waits for the transaction holding it to end); the position is drawn only after.
                    INSERT INTO {tables.OutboxKeys} AS k (ordering_key) VALUES (NEW.ordering_key)
                    ON CONFLICT (ordering_key) DO UPDATE SET last_xact = k.last_xact
                    RETURNING k.last_xact, k.last_position INTO holder, assigned;
                    IF holder IS DISTINCT FROM pg_current_xact_id() THEN
                        UPDATE {tables.OutboxKeys} SET last_position = nextval('{sequenceLiteral}'), last_xact = pg_current_xact_id()
                        WHERE ordering_key = NEW.ordering_key
                        RETURNING last_position INTO assigned;
                    END IF;
                    NEW.key_position := assigned;
                    RETURN NEW;
                END $W$;
                """)
            .AppendLine($"CREATE OR REPLACE TRIGGER workers_outbox_key_position BEFORE INSERT ON {tables.Outbox} FOR EACH ROW WHEN (NEW.ordering_key IS NOT NULL) EXECUTE FUNCTION {function}();");
    }

    [GeneratedRegex(@"CREATE TABLE (?!IF NOT EXISTS)", RegexOptions.CultureInvariant)]
    private static partial Regex CreateTable();

    [GeneratedRegex(@"CREATE (?<unique>UNIQUE )?INDEX (?!IF NOT EXISTS)", RegexOptions.CultureInvariant)]
    private static partial Regex CreateIndex();

    private sealed class SchemaContext(DbContextOptions<SchemaContext> options, string? schema, bool outbox, bool inbox, bool failureStore) : DbContext(options)
    {
        public string Key => $"{schema}|{outbox}|{inbox}|{failureStore}";

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

            if (failureStore)
            {
                modelBuilder.AddWorkersFailureStore(schema);
            }
        }
    }

    private sealed class SchemaModelCacheKeyFactory : IModelCacheKeyFactory
    {
        public object Create(DbContext context, bool designTime) =>
            context is SchemaContext schema ? (schema.Key, designTime) : (context.GetType(), designTime);
    }
}
