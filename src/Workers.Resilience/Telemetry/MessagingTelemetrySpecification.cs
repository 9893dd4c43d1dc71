using MassTransit;
using MassTransit.Configuration;

namespace Workers.Resilience.Telemetry;

/// <summary>Adds an endpoint's <see cref="MessagingTelemetryFilter"/> to its consume pipe.</summary>
internal sealed class MessagingTelemetrySpecification : IPipeSpecification<ConsumeContext>
{
    private readonly MessagingTelemetrySettings settings;

    public MessagingTelemetrySpecification(MessagingTelemetrySettings settings) => this.settings = settings;

    public void Apply(IPipeBuilder<ConsumeContext> builder) => builder.AddFilter(new MessagingTelemetryFilter(settings));

    public IEnumerable<ValidationResult> Validate()
    {
        if (string.IsNullOrWhiteSpace(settings.Destination))
        {
            yield return this.Failure("MessagingTelemetry", "the destination name (the endpoint's queue) must not be empty");
        }
    }
}
