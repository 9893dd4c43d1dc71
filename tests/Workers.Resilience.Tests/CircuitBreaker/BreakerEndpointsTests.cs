using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Workers.Resilience.CircuitBreaker;
using Xunit;

namespace Workers.Resilience.Tests.CircuitBreaker;

public sealed class BreakerEndpointsTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly BreakerEndpoints endpoints;
    private readonly FakeEndpoint endpoint = new(new Uri("rabbitmq://localhost/orders"));

    public BreakerEndpointsTests()
    {
        endpoints = new BreakerEndpoints("orders", time, NullLogger.Instance);
    }

    public void Dispose() => endpoints.Dispose();

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Pause_StopsTheReadyEndpoint_AndResumeStartsIt()
    {
        endpoints.Ready(endpoint, () => endpoint);

        endpoints.Want(false);
        await endpoints.Pending.WaitAsync(Bound, Cancel);
        Assert.Equal(["stop"], endpoint.Calls);
        Assert.True(endpoints.Settled);

        endpoints.Want(true);
        await endpoints.Pending.WaitAsync(Bound, Cancel);
        Assert.Equal(["stop", "start"], endpoint.Calls);
        Assert.True(endpoints.Settled);
    }

    [Fact]
    public async Task FailedStart_IsRetriedWithBackoff_UntilTheEndpointConsumes()
    {
        endpoints.Ready(endpoint, () => endpoint);
        endpoints.Want(false);
        await endpoints.Pending.WaitAsync(Bound, Cancel);
        endpoint.FailNext("start", 2);

        endpoints.Want(true);
        await endpoint.WaitForCallsAsync(2, Cancel);
        Assert.False(endpoints.Settled);

        // The first retry comes no sooner than 1 s after the first failure, the second no sooner than 2 s after the second.
        Assert.True(await AdvanceUntilCallsAsync(3) >= TimeSpan.FromSeconds(1));
        Assert.True(await AdvanceUntilCallsAsync(4) >= TimeSpan.FromSeconds(2));
        await endpoints.Pending.WaitAsync(Bound, Cancel);

        Assert.Equal(["stop", "start", "start", "start"], endpoint.Calls);
        Assert.True(endpoints.Settled);
    }

    [Fact]
    public async Task FailedStop_IsRetried_SoThatAnOpenBreakerReallyPauses()
    {
        endpoints.Ready(endpoint, () => endpoint);
        endpoint.FailNext("stop", 1);

        endpoints.Want(false);
        await endpoint.WaitForCallsAsync(1, Cancel);
        await AdvanceUntilCallsAsync(2);
        await endpoints.Pending.WaitAsync(Bound, Cancel);

        Assert.Equal(["stop", "stop"], endpoint.Calls);
        Assert.True(endpoints.Settled);
    }

    [Fact]
    public async Task EndpointReadyAgainWhilePaused_IsStoppedAgain()
    {
        // MassTransit recovers a lost connection by itself and reports the endpoint ready, even while the breaker is open.
        endpoints.Ready(endpoint, () => endpoint);
        endpoints.Want(false);
        await endpoints.Pending.WaitAsync(Bound, Cancel);

        endpoints.Ready(endpoint, () => throw new InvalidOperationException("the endpoint is known already"));
        await endpoints.Pending.WaitAsync(Bound, Cancel);

        Assert.Equal(["stop", "stop"], endpoint.Calls);
        Assert.True(endpoints.Settled);
    }

    [Fact]
    public async Task StoppedBus_LeavesEndpointsAlone_UntilItRunsAgain()
    {
        endpoints.Ready(endpoint, () => endpoint);
        endpoints.SetBusRunning(false);

        endpoints.Want(false);
        await endpoints.Pending.WaitAsync(Bound, Cancel);
        Assert.Empty(endpoint.Calls);

        endpoints.SetBusRunning(true);
        await endpoints.Pending.WaitAsync(Bound, Cancel);
        Assert.Equal(["stop"], endpoint.Calls);
    }

    [Fact]
    public void RetryDelay_DoublesFromOneSecond_UpToThirty()
    {
        Assert.Equal(TimeSpan.FromSeconds(1), CircuitBreakerConstants.EndpointRetryDelay(1));
        Assert.Equal(TimeSpan.FromSeconds(2), CircuitBreakerConstants.EndpointRetryDelay(2));
        Assert.Equal(TimeSpan.FromSeconds(16), CircuitBreakerConstants.EndpointRetryDelay(5));
        Assert.Equal(TimeSpan.FromSeconds(30), CircuitBreakerConstants.EndpointRetryDelay(6));
        Assert.Equal(TimeSpan.FromSeconds(30), CircuitBreakerConstants.EndpointRetryDelay(1000));
    }

    // Moves the fake clock in 100 ms steps until the endpoint saw that many calls; returns how far it moved.
    // (The retry's timer is armed a moment after the failing call returns, so one big step could come too early.)
    private async Task<TimeSpan> AdvanceUntilCallsAsync(int count)
    {
        var moved = TimeSpan.Zero;
        var step = TimeSpan.FromMilliseconds(100);
        while (endpoint.Calls.Count < count)
        {
            Assert.True(moved < TimeSpan.FromMinutes(1), $"no call #{count} within a minute of fake time");
            time.Advance(step);
            moved += step;
            await endpoint.WaitForCallsAsync(count, Cancel, TimeSpan.FromMilliseconds(20));
        }

        return moved;
    }

    private sealed class FakeEndpoint(Uri address) : IPausableEndpoint
    {
        private readonly ConcurrentQueue<string> calls = new();
        private readonly ConcurrentDictionary<string, int> failures = new();
        private readonly SemaphoreSlim called = new(0);

        public Uri Address { get; } = address;

        public IReadOnlyList<string> Calls => [.. calls];

        public void FailNext(string action, int times) => failures[action] = times;

        /// <summary>Waits until that many calls were made; with a <paramref name="grace"/>, gives up quietly after it.</summary>
        public async Task WaitForCallsAsync(int count, CancellationToken cancellationToken, TimeSpan? grace = null)
        {
            while (calls.Count < count)
            {
                if (!await called.WaitAsync(grace ?? Bound, cancellationToken))
                {
                    Assert.True(grace is not null, $"no call #{count} within {Bound}");
                    return;
                }
            }
        }

        public Task StartAsync(CancellationToken cancellationToken) => Act("start");

        public Task StopAsync(CancellationToken cancellationToken) => Act("stop");

        private Task Act(string action)
        {
            calls.Enqueue(action);
            var fail = failures.TryGetValue(action, out var left) && left > 0;
            if (fail)
            {
                failures[action] = left - 1;
            }

            called.Release();
            return fail ? Task.FromException(new InvalidOperationException($"{action} failed: connection lost")) : Task.CompletedTask;
        }
    }
}
