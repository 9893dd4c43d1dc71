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
            var function = tables.Schema is null ? "workers_outbox_notify" : $"{WorkersTables.Quote(tables.Schema)}.workers_outbox_notify";
            builder.AppendLine()
                .AppendLine($"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $W$ BEGIN PERFORM pg_notify('{tables.Channel}', ''); RETURN NULL; END $W$;")
                .AppendLine($"CREATE OR REPLACE TRIGGER workers_outbox_notify AFTER INSERT ON {tables.Outbox} FOR EACH STATEMENT EXECUTE FUNCTION {function}();");
        }

        return builder.ToString();
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
