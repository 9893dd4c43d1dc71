using MassTransit;
using MassTransit.Configuration;

namespace Workers.Resilience.CircuitBreaker;

/// <summary>Adds the circuit breaker filter to an endpoint's consume pipe.</summary>
internal sealed class CircuitBreakerSpecification : IPipeSpecification<ConsumeContext>
{
    private readonly CircuitBreakerRegistry registry;
    private readonly string name;
    private readonly CircuitBreakerOptions options;

    public CircuitBreakerSpecification(CircuitBreakerRegistry registry, string name, CircuitBreakerOptions options)
    {
        this.registry = registry;
        this.name = name;
        this.options = options;
    }

    public void Apply(IPipeBuilder<ConsumeContext> builder)
    {
        builder.AddFilter(new CircuitBreakerFilter(registry.GetOrAdd(name, options), registry.Classifier));
    }

    public IEnumerable<ValidationResult> Validate() =>
        options.Validate($"CircuitBreaker:{name}").Select(error => this.Failure("CircuitBreaker", error));
}
