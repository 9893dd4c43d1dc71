using MassTransit;
using MassTransit.Configuration;

namespace Workers.Resilience.Bulkhead;

/// <summary>Adds a consumer's bulkhead filter to an endpoint's consume pipe.</summary>
internal sealed class BulkheadSpecification : IPipeSpecification<ConsumeContext>
{
    private readonly BulkheadRegistry registry;
    private readonly string consumer;
    private readonly BulkheadOptions options;
    private readonly ConsumerMessageTypes messageTypes;

    public BulkheadSpecification(BulkheadRegistry registry, string consumer, BulkheadOptions options, ConsumerMessageTypes messageTypes)
    {
        this.registry = registry;
        this.consumer = consumer;
        this.options = options;
        this.messageTypes = messageTypes;
    }

    public void Apply(IPipeBuilder<ConsumeContext> builder) =>
        builder.AddFilter(new BulkheadFilter(registry.GetOrAdd(consumer, options), messageTypes, registry.Logger));

    public IEnumerable<ValidationResult> Validate() =>
        options.Validate($"Bulkhead:{consumer}").Select(error => this.Failure("Bulkhead", error));
}
