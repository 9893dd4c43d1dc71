namespace Workers.Hosting;

/// <summary>Settings of one receive endpoint (a queue and its consumers).</summary>
public sealed class EndpointOptions
{
    /// <summary>The queue's type: <see cref="QueueType.Classic"/> (durable) or <see cref="QueueType.Quorum"/> (replicated).</summary>
    public QueueType QueueType { get; set; } = QueueType.Classic;

    /// <summary>How many unacknowledged messages the broker may push ahead (1 to 65535); defaults to the broker-wide setting.</summary>
    public int? PrefetchCount { get; set; }

    /// <summary>How many messages are consumed at once on this endpoint (1 to the prefetch count); defaults to the prefetch count.</summary>
    public int? ConcurrentMessageLimit { get; set; }
}

/// <summary>The type of a receive endpoint's queue.</summary>
public enum QueueType
{
    /// <summary>A durable classic queue on one node.</summary>
    Classic = 0,

    /// <summary>A quorum queue, replicated across the cluster's nodes (Raft); survives the loss of a minority of nodes.</summary>
    Quorum = 1,
}
