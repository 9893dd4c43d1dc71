namespace Workers.Postgres;

/// <summary>Per-message settings for <see cref="IWorkersOutbox"/>.</summary>
public sealed class OutboxMessageOptions
{
    /// <summary>The MessageId on the wire; a new sequential id when null.</summary>
    public Guid? MessageId { get; set; }

    /// <summary>Messages sharing a key are delivered one after another in write order; different keys in parallel.</summary>
    public string? OrderingKey { get; set; }

    /// <summary>Extra headers set on the message.</summary>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.Ordinal);
}
