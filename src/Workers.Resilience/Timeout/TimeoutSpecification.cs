using MassTransit;
using MassTransit.Configuration;

namespace Workers.Resilience.Timeout;

/// <summary>Adds a consumer's timeout filter to an endpoint's consume pipe.</summary>
internal sealed class TimeoutSpecification : IPipeSpecification<ConsumeContext>
{
    private readonly ConsumerTimeoutRegistry registry;
    private readonly string consumer;
    private readonly TimeoutOptions options;
    private readonly ConsumerMessageTypes messageTypes;

    public TimeoutSpecification(ConsumerTimeoutRegistry registry, string consumer, TimeoutOptions options, ConsumerMessageTypes messageTypes)
    {
        this.registry = registry;
        this.consumer = consumer;
        this.options = options;
        this.messageTypes = messageTypes;
    }

    public void Apply(IPipeBuilder<ConsumeContext> builder) =>
        builder.AddFilter(new ConsumerTimeoutFilter(registry.GetOrAdd(consumer, options), messageTypes, registry.TimeProvider, registry.Logger));

    public IEnumerable<ValidationResult> Validate() =>
        options.Validate($"Timeout:{consumer}").Select(error => this.Failure("Timeout", error));
}
