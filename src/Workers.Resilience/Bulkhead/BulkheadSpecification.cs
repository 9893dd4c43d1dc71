using MassTransit;
using MassTransit.Configuration;

namespace Workers.Resilience.Bulkhead;

/// <summary>Adds a consumer's bulkhead filter to an endpoint's consume pipe.</summary>
internal sealed class BulkheadSpecification : IPipeSpecification<ConsumeContext>
{
    private readonly BulkheadRegistry registry;
    private readonly BulkheadSettings settings;

    public BulkheadSpecification(BulkheadRegistry registry, BulkheadSettings settings)
    {
        this.registry = registry;
        this.settings = settings;
    }

    public void Apply(IPipeBuilder<ConsumeContext> builder) =>
        builder.AddFilter(new BulkheadFilter(registry, settings));

    public IEnumerable<ValidationResult> Validate() =>
        settings.Options.Validate($"Bulkhead:{settings.Consumer}").Select(error => this.Failure("Bulkhead", error));
}
