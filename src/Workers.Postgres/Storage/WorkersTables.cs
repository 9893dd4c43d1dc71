using Microsoft.EntityFrameworkCore;

namespace Workers.Postgres.Storage;

/// <summary>Quoted, schema-qualified table names of the Workers tables as mapped in a model.</summary>
internal sealed record WorkersTables(string? Schema, string Outbox, string Inbox, bool HasOutbox, bool HasInbox, bool HasFailureStore = false)
{
    public static WorkersTables From(DbContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var outbox = context.Model.FindEntityType(typeof(OutboxMessage));
        var inbox = context.Model.FindEntityType(typeof(InboxMessage));
        var failures = context.Model.FindEntityType(typeof(FailureStore.FailedMessage));
        var schema = outbox?.GetSchema() ?? inbox?.GetSchema() ?? failures?.GetSchema();
        return new WorkersTables(
            schema,
            Qualify(outbox?.GetSchema(), outbox?.GetTableName() ?? WorkersModelBuilderExtensions.OutboxTable),
            Qualify(inbox?.GetSchema(), inbox?.GetTableName() ?? WorkersModelBuilderExtensions.InboxTable),
            outbox is not null,
            inbox is not null,
            failures is not null);
    }

    /// <summary>The view listing quarantined outbox rows (<see cref="WorkersModelBuilderExtensions.OutboxQuarantineView"/>), beside the outbox table.</summary>
    public string OutboxQuarantine => Qualify(Schema, WorkersModelBuilderExtensions.OutboxQuarantineView);

    /// <summary>The ordering-key table (<see cref="WorkersModelBuilderExtensions.OutboxKeysTable"/>), beside the outbox table.</summary>
    public string OutboxKeys => Qualify(Schema, WorkersModelBuilderExtensions.OutboxKeysTable);

    /// <summary>The sequence the key positions are drawn from.</summary>
    public string OutboxKeyPositionSequence => Qualify(Schema, "workers_outbox_key_position_seq");

    /// <summary>A schema object (function, index) beside the outbox table.</summary>
    public string Beside(string name) => Qualify(Schema, name);

    /// <summary>Name of the NOTIFY channel the outbox trigger signals on commit.</summary>
    public string Channel => Schema is null ? "workers_outbox" : $"workers_outbox_{Schema}";

    private static string Qualify(string? schema, string table) =>
        schema is null ? Quote(table) : $"{Quote(schema)}.{Quote(table)}";

    internal static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
