namespace Workers.Postgres.Storage;

/// <summary>A message a consumer has already processed (its effects committed with this row).</summary>
internal sealed class InboxMessage
{
    /// <summary>The MassTransit MessageId.</summary>
    public Guid MessageId { get; set; }

    /// <summary>The consumer (receive endpoint) name.</summary>
    public string Consumer { get; set; } = string.Empty;

    /// <summary>When it was first processed.</summary>
    public DateTimeOffset ReceivedAt { get; set; }

    /// <summary>How many duplicates were absorbed.</summary>
    public int Duplicates { get; set; }
}
