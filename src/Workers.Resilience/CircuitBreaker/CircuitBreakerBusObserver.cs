using MassTransit;

namespace Workers.Resilience.CircuitBreaker;

/// <summary>
/// Keeps the breakers from restarting endpoints while the bus stops (a break that ends during shutdown would
/// otherwise start consuming again on a stopping bus).
/// </summary>
internal sealed class CircuitBreakerBusObserver : IBusObserver
{
    private readonly CircuitBreakerRegistry registry;

    public CircuitBreakerBusObserver(CircuitBreakerRegistry registry)
    {
        this.registry = registry;
    }

    public void PostCreate(IBus bus)
    {
    }

    public void CreateFaulted(Exception exception)
    {
    }

    public Task PreStart(IBus bus)
    {
        registry.SetBusRunning(true);
        return Task.CompletedTask;
    }

    public Task PostStart(IBus bus, Task<BusReady> busReady) => Task.CompletedTask;

    public Task StartFaulted(IBus bus, Exception exception) => Task.CompletedTask;

    public Task PreStop(IBus bus)
    {
        registry.SetBusRunning(false);
        return Task.CompletedTask;
    }

    public Task PostStop(IBus bus) => Task.CompletedTask;

    public Task StopFaulted(IBus bus, Exception exception) => Task.CompletedTask;
}
