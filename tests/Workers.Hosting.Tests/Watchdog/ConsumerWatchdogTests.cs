using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Workers.Hosting;
using Workers.Resilience;
using Workers.Resilience.CircuitBreaker;
using Xunit;

namespace Workers.Hosting.Tests.Watchdog;

public sealed class ConsumerWatchdogTests : IDisposable
{
    private static readonly Uri Address = new("rabbitmq://localhost/orders");
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly CircuitBreakerRegistry breakers;
    private readonly EndpointActivityRegistry activities;
    private readonly FakeEndpoint endpoint = new();
    private (uint Messages, uint Consumers)? broker = (5, 0);
    private Exception? brokerFailure;

    public ConsumerWatchdogTests()
    {
        breakers = new CircuitBreakerRegistry(time);
        activities = new EndpointActivityRegistry(time);
    }

    public void Dispose() => breakers.Dispose();

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private ConsumerWatchdog Create() => new(
        activities,
        (queue, _) => brokerFailure is null ? Task.FromResult(queue == "orders" ? broker : null) : Task.FromException<(uint, uint)?>(brokerFailure),
        breakers,
        new ConsumerWatchdogOptions { StallTimeout = TimeSpan.FromSeconds(30) },
        time,
        NullLogger.Instance);

    private EndpointActivity ReadyEndpoint()
    {
        var activity = activities.For("orders");
        activity.OnReady(Address, () => endpoint);
        return activity;
    }

    [Fact]
    public async Task StuckAtTwoInspectionsInARow_IsRestarted()
    {
        var watchdog = Create();
        var activity = ReadyEndpoint();
        time.Advance(TimeSpan.FromSeconds(31));

        Assert.False(await watchdog.InspectAsync(activity, Cancel));
        Assert.Empty(endpoint.Calls);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(await watchdog.InspectAsync(activity, Cancel));

        Assert.Equal(["stop", "start"], endpoint.Calls);
    }

    [Fact]
    public async Task HealthyInspectionInBetween_StartsTheCountAgain()
    {
        var watchdog = Create();
        var activity = ReadyEndpoint();
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.False(await watchdog.InspectAsync(activity, Cancel));

        activity.Received();
        await activity.Done();
        Assert.False(await watchdog.InspectAsync(activity, Cancel));
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.False(await watchdog.InspectAsync(activity, Cancel));

        Assert.Empty(endpoint.Calls);
    }

    [Fact]
    public async Task BrokerUnreachable_OrEndpointNotReady_NoRestart()
    {
        var watchdog = Create();
        var activity = ReadyEndpoint();
        time.Advance(TimeSpan.FromSeconds(31));
        brokerFailure = new InvalidOperationException("broker unreachable");
        Assert.False(await watchdog.InspectAsync(activity, Cancel));
        Assert.False(await watchdog.InspectAsync(activity, Cancel));

        brokerFailure = null;
        await activity.NotReady();
        Assert.False(await watchdog.InspectAsync(activity, Cancel));
        Assert.False(await watchdog.InspectAsync(activity, Cancel));

        Assert.Empty(endpoint.Calls);
    }

    [Fact]
    public async Task EndpointPausedByItsBreaker_IsLeftAlone()
    {
        var breaker = breakers.GetOrAdd("orders", new CircuitBreakerOptions { MinimumThroughput = 2, FailureRatio = 0.5, BreakDuration = TimeSpan.FromMinutes(5) });
        var paused = new FakeEndpoint();
        breaker.Attach(paused);
        await breaker.EnterAsync(Cancel);
        breaker.OnFailure(false, new InvalidOperationException("down"));
        await breaker.EnterAsync(Cancel);
        breaker.OnFailure(false, new InvalidOperationException("down"));
        Assert.Equal(CircuitState.Open, breaker.State);
        await breaker.PendingReconcile.WaitAsync(TimeSpan.FromSeconds(10), Cancel);
        Assert.Equal(["stop"], paused.Calls);
        var watchdog = Create();
        var activity = ReadyEndpoint();
        time.Advance(TimeSpan.FromSeconds(31));

        Assert.False(await watchdog.InspectAsync(activity, Cancel));
        Assert.False(await watchdog.InspectAsync(activity, Cancel));

        Assert.Empty(endpoint.Calls);
    }

    private sealed class FakeEndpoint : IPausableEndpoint
    {
        private readonly List<string> calls = [];

        public Uri Address => ConsumerWatchdogTests.Address;

        public IReadOnlyList<string> Calls
        {
            get
            {
                lock (calls)
                {
                    return [.. calls];
                }
            }
        }

        public Task StartAsync(CancellationToken cancellationToken) => Record("start");

        public Task StopAsync(CancellationToken cancellationToken) => Record("stop");

        private Task Record(string call)
        {
            lock (calls)
            {
                calls.Add(call);
            }

            return Task.CompletedTask;
        }
    }
}
