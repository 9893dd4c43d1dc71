using Workers.Resilience;

namespace Workers.Hosting;

/// <summary>An endpoint's settings once its own values, the defaults and the built-in values are combined.</summary>
internal sealed record EffectiveEndpoint(
    string Queue,
    QueueType QueueType,
    int PrefetchCount,
    int? ConcurrentMessageLimit,
    RedeliveryOptions Redelivery,
    DeadLetterOptions DeadLetter,
    CircuitBreakerOptions? CircuitBreaker,
    BulkheadOptions? Bulkhead,
    TimeoutOptions? Timeout,
    bool Inbox)
{
    /// <summary>The endpoint's exception classification: <see cref="RedeliveryOptions.Classification"/> (from
    /// configuration) with the rules given in code (<see cref="WorkersBuilder.ClassifyExceptions"/>) added.</summary>
    public ExceptionClassificationOptions Classification { get; init; } = Redelivery.Classification;

    public static EffectiveEndpoint Resolve(WorkersOptions options, string queue, bool inboxAvailable)
    {
        var own = options.Endpoints.TryGetValue(queue, out var found) ? found : new EndpointOptions();
        var defaults = options.Defaults;
        return new EffectiveEndpoint(
            queue,
            own.QueueType ?? defaults.QueueType ?? QueueType.Classic,
            own.PrefetchCount ?? defaults.PrefetchCount ?? options.RabbitMq.PrefetchCount,
            own.ConcurrentMessageLimit ?? defaults.ConcurrentMessageLimit,
            own.Redelivery ?? defaults.Redelivery ?? new RedeliveryOptions(),
            own.DeadLetter ?? defaults.DeadLetter ?? new DeadLetterOptions(),
            own.CircuitBreaker ?? defaults.CircuitBreaker,
            own.Bulkhead ?? defaults.Bulkhead,
            own.Timeout ?? defaults.Timeout,
            inboxAvailable && (own.Inbox ?? defaults.Inbox ?? true));
    }
}
