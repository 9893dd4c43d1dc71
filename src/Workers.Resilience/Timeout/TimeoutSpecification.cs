using MassTransit;
using MassTransit.Configuration;

namespace Workers.Resilience.Timeout;

/// <summary>Adds a consumer's timeout filter to an endpoint's consume pipe.</summary>
internal sealed class TimeoutSpecification : IPipeSpecification<ConsumeContext>
{
    private readonly ConsumerTimeoutRegistry registry;
    private readonly TimeoutSettings settings;

    public TimeoutSpecification(ConsumerTimeoutRegistry registry, TimeoutSettings settings)
    {
        this.registry = registry;
        this.settings = settings;
    }

    public void Apply(IPipeBuilder<ConsumeContext> builder) =>
        builder.AddFilter(new ConsumerTimeoutFilter(registry, settings));

    public IEnumerable<ValidationResult> Validate() =>
        settings.Options.Validate($"Timeout:{settings.Consumer}").Select(error => this.Failure("Timeout", error));
}
