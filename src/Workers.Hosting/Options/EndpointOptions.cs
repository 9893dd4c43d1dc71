using Workers.Resilience;

namespace Workers.Hosting;

/// <summary>
/// Settings of one receive endpoint (a queue and its consumer), or — as <see cref="WorkersOptions.Defaults"/> —
/// of every endpoint. An endpoint's value wins; an unset one falls back to the defaults, then to the built-in
/// value. Sub-sections (<see cref="Redelivery"/>, <see cref="CircuitBreaker"/>, …) fall back as a whole.
/// </summary>
public sealed class EndpointOptions
{
    /// <summary>The queue's type: <see cref="Hosting.QueueType.Classic"/> (durable, the built-in default) or <see cref="Hosting.QueueType.Quorum"/> (replicated).</summary>
    public QueueType? QueueType { get; set; }

    /// <summary>How many unacknowledged messages the broker may push ahead (1 to 65535); defaults to the broker-wide setting.</summary>
    public int? PrefetchCount { get; set; }

    /// <summary>How many messages are consumed at once on this endpoint (1 to the prefetch count); defaults to the prefetch count.</summary>
    public int? ConcurrentMessageLimit { get; set; }

    /// <summary>
    /// Redelivery through the broker's delay ladder, then dead-letter. Always on: the built-in default is 5
    /// redeliveries from 1 s doubling to 5 min; <c>MaxRedeliveryAttempts = 0</c> dead-letters after the first failure.
    /// </summary>
    public RedeliveryOptions? Redelivery { get; set; }

    /// <summary>What a dead-lettered message carries (stack trace, header sizes, fallback timeout).</summary>
    public DeadLetterOptions? DeadLetter { get; set; }

    /// <summary>A circuit breaker that pauses the endpoint while its dependency fails; off unless set.</summary>
    public CircuitBreakerOptions? CircuitBreaker { get; set; }

    /// <summary>A concurrency bulkhead for the consumer; off unless set.</summary>
    public BulkheadOptions? Bulkhead { get; set; }

    /// <summary>A per-message timeout that cancels the consumer and counts as a transient failure; off unless set.</summary>
    public TimeoutOptions? Timeout { get; set; }

    /// <summary>Record each consumed message in the PostgreSQL inbox (exactly-once effects); on by default when <c>UsePostgres</c> was called.</summary>
    public bool? Inbox { get; set; }
}

/// <summary>The type of a receive endpoint's queue.</summary>
public enum QueueType
{
    /// <summary>A durable classic queue on one node.</summary>
    Classic = 0,

    /// <summary>A quorum queue, replicated across the cluster's nodes (Raft); survives the loss of a minority of nodes.</summary>
    Quorum = 1,
}
