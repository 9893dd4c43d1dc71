namespace Workers.Postgres;

/// <summary>Per-message settings for <see cref="IWorkersOutbox"/>.</summary>
public sealed class OutboxMessageOptions
{
    /// <summary>
    /// The MessageId on the wire. When null: inside a consume run by the inbox, an id derived from (inbound MessageId,
    /// endpoint, position of this message in the consume), the same if the consume runs again; elsewhere a new sequential id.
    /// </summary>
    public Guid? MessageId { get; set; }

    /// <summary>
    /// Messages sharing a key are dispatched one after another in the order their transactions committed (within one
    /// transaction, in staging order), whichever replica staged them and whatever its clock; different keys in parallel.
    /// Transactions staging for one key serialize on the key until they end: keep them short.
    /// </summary>
    public string? OrderingKey { get; set; }

    /// <summary>Extra headers set on the message.</summary>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.Ordinal);
}
