using MassTransit;

namespace Workers.Resilience.CircuitBreaker;

/// <summary>Hands each ready receive endpoint to its breaker, so that the breaker can stop and start it.</summary>
internal sealed class CircuitBreakerEndpointObserver : IReceiveEndpointObserver
{
    private readonly CircuitBreakerRegistry registry;
    private readonly string name;
    private readonly CircuitBreakerOptions options;

    public CircuitBreakerEndpointObserver(CircuitBreakerRegistry registry, string name, CircuitBreakerOptions options)
    {
        this.registry = registry;
        this.name = name;
        this.options = options;
    }

    public Task Ready(ReceiveEndpointReady ready)
    {
        registry.GetOrAdd(name, options).Attach(ready.ReceiveEndpoint, ready.InputAddress);
        return Task.CompletedTask;
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;
}
