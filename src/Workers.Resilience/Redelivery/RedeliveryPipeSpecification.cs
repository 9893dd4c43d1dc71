using MassTransit;
using MassTransit.Configuration;
using Workers.Resilience.Broker;

namespace Workers.Resilience.Redelivery;

/// <summary>Adds a <see cref="RedeliveryFilter{TContext}"/> to a consume pipe and validates its options.</summary>
internal sealed class RedeliveryPipeSpecification<TContext> : IPipeSpecification<TContext>
    where TContext : class, ConsumeContext
{
    private readonly Func<BrokerClient> transport;
    private readonly RedeliverySettings settings;

    public RedeliveryPipeSpecification(Func<BrokerClient> transport, RedeliverySettings settings)
    {
        this.transport = transport;
        this.settings = settings;
    }

    public void Apply(IPipeBuilder<TContext> builder) =>
        builder.AddFilter(new RedeliveryFilter<TContext>(transport(), settings));

    public IEnumerable<ValidationResult> Validate() =>
        settings.Options.Validate().Concat(settings.DeadLetter.Validate()).Select(error => this.Failure("WorkersRedelivery", error));
}
