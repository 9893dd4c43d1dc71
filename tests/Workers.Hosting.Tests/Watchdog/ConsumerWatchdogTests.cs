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

    // Inspects the endpoint this many times; none of them may restart it.
    private static async Task AssertNotRestartedAsync(ConsumerWatchdog watchdog, EndpointActivity activity, int inspections = 1)
    {
        for (var i = 0; i < inspections; i++)
        {
            Assert.False(await watchdog.InspectAsync(activity, Cancel), $"inspection {i + 1} of {inspections} restarted the endpoint");
        }
    }

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

        await AssertNotRestartedAsync(watchdog, activity);
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
        await AssertNotRestartedAsync(watchdog, activity);

        activity.Received();
        await activity.Done();
        await AssertNotRestartedAsync(watchdog, activity);
        time.Advance(TimeSpan.FromSeconds(31));
        await AssertNotRestartedAsync(watchdog, activity);

        Assert.Empty(endpoint.Calls);
    }

    [Fact]
    public async Task BrokerUnreachable_OrEndpointNotReady_NoRestart()
    {
        var watchdog = Create();
        var activity = ReadyEndpoint();
        time.Advance(TimeSpan.FromSeconds(31));
        brokerFailure = new InvalidOperationException("broker unreachable");
        await AssertNotRestartedAsync(watchdog, activity, inspections: 2);

        brokerFailure = null;
        await activity.NotReady();
        await AssertNotRestartedAsync(watchdog, activity, inspections: 2);

        Assert.Empty(endpoint.Calls);
    }

    [Fact]
    public async Task EndpointDownWhileTheBrokerAnswers_ForTheStallTimeout_IsRestarted()
    {
        // Seen on RabbitMQ 4.0 after a network cut: one endpoint never became ready again while the broker answered.
        var watchdog = Create();
        var activity = ReadyEndpoint();
        await activity.NotReady();
        await AssertNotRestartedAsync(watchdog, activity);
        time.Advance(TimeSpan.FromSeconds(29));
        await AssertNotRestartedAsync(watchdog, activity);
        time.Advance(TimeSpan.FromSeconds(2));
        await AssertNotRestartedAsync(watchdog, activity);
        Assert.Empty(endpoint.Calls);
        time.Advance(TimeSpan.FromSeconds(10));

        Assert.True(await watchdog.InspectAsync(activity, Cancel));
        Assert.Equal(["stop", "start"], endpoint.Calls);
    }

    [Fact]
    public async Task EndpointDown_TheBrokerUnreachableInBetween_GetsTheWholeStallTimeoutAgain()
    {
        // After an outage MassTransit reconnects by itself: the endpoint gets the stall timeout from the broker's return.
        var watchdog = Create();
        var activity = ReadyEndpoint();
        await activity.NotReady();
        await AssertNotRestartedAsync(watchdog, activity);
        time.Advance(TimeSpan.FromSeconds(20));
        brokerFailure = new InvalidOperationException("broker unreachable");
        await AssertNotRestartedAsync(watchdog, activity);
        time.Advance(TimeSpan.FromSeconds(20));
        brokerFailure = null;
        await AssertNotRestartedAsync(watchdog, activity);
        time.Advance(TimeSpan.FromSeconds(20));
        await AssertNotRestartedAsync(watchdog, activity, inspections: 2);
        Assert.Empty(endpoint.Calls);

        time.Advance(TimeSpan.FromSeconds(11));
        await AssertNotRestartedAsync(watchdog, activity);
        Assert.True(await watchdog.InspectAsync(activity, Cancel));
        Assert.Equal(["stop", "start"], endpoint.Calls);
    }

    [Fact]
    public async Task StopFails_TheEndpointIsStartedAnyway()
    {
        var watchdog = Create();
        var activity = ReadyEndpoint();
        endpoint.FailStop = true;
        time.Advance(TimeSpan.FromSeconds(31));
        await AssertNotRestartedAsync(watchdog, activity);
        time.Advance(TimeSpan.FromSeconds(10));

        Assert.True(await watchdog.InspectAsync(activity, Cancel));
        Assert.Equal(["stop", "start"], endpoint.Calls);
    }

    [Fact]
    public async Task EndpointNeverReady_IsLeftToMassTransit()
    {
        var watchdog = Create();
        var activity = activities.For("orders");
        time.Advance(TimeSpan.FromMinutes(5));

        await AssertNotRestartedAsync(watchdog, activity, inspections: 2);
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

        await AssertNotRestartedAsync(watchdog, activity, inspections: 2);

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

        public bool FailStop { get; set; }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            Record("stop");
            return FailStop ? Task.FromException(new InvalidOperationException("the connection the stop needs is down")) : Task.CompletedTask;
        }

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
