using Microsoft.Extensions.Time.Testing;
using Workers.Resilience.CircuitBreaker;
using Xunit;

namespace Workers.Resilience.Tests.CircuitBreaker;

public sealed class EndpointCircuitBreakerTests : IDisposable
{
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly CircuitBreakerRegistry registry;

    public EndpointCircuitBreakerTests()
    {
        registry = new CircuitBreakerRegistry(time);
    }

    public void Dispose() => registry.Dispose();

    private EndpointCircuitBreaker Create(Action<CircuitBreakerOptions>? configure = null)
    {
        var options = new CircuitBreakerOptions { MinimumThroughput = 2, FailureRatio = 0.5, BreakDuration = TimeSpan.FromSeconds(5) };
        configure?.Invoke(options);
        return registry.GetOrAdd("orders", options);
    }

    private static async Task Trip(EndpointCircuitBreaker breaker)
    {
        Assert.False(await breaker.EnterAsync(CancellationToken.None));
        Assert.False(breaker.OnFailure(false, new InvalidOperationException("down")));
        Assert.False(await breaker.EnterAsync(CancellationToken.None));
        Assert.True(breaker.OnFailure(false, new InvalidOperationException("down")));
    }

    /// <summary>A tripped breaker past its break, with one probe running and one message waiting on it.</summary>
    private async Task<(EndpointCircuitBreaker Breaker, Task<bool> Waiting)> HalfOpenWithWaiter()
    {
        var breaker = Create();
        await Trip(breaker);
        time.Advance(TimeSpan.FromSeconds(5));

        Assert.True(await breaker.EnterAsync(CancellationToken.None));
        var waiting = breaker.EnterAsync(CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        return (breaker, waiting);
    }

    [Fact]
    public async Task TrippingFailure_AsksForRequeue_AndOpenBreakerRejects()
    {
        var breaker = Create();
        await Trip(breaker);

        Assert.Equal(CircuitState.Open, breaker.State);
        await Assert.ThrowsAsync<CircuitBreakerOpenException>(async () => await breaker.EnterAsync(CancellationToken.None));
        var snapshot = Assert.Single(registry.GetSnapshots());
        Assert.Equal("orders", snapshot.Name);
        Assert.Equal(CircuitState.Open, snapshot.State);
        Assert.Equal(time.GetUtcNow().AddSeconds(5), snapshot.OpenUntil);
        Assert.Contains("down", snapshot.LastFailure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BreakTimer_TurnsHalfOpenWithoutAnyMessage()
    {
        var breaker = Create();
        await Trip(breaker);

        time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(CircuitState.HalfOpen, breaker.State);
    }

    [Fact]
    public async Task WaitingMessages_RunWhenTheProbeCloses()
    {
        var (breaker, waiting) = await HalfOpenWithWaiter();

        breaker.OnSuccess(probe: true);

        Assert.False(await waiting.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal(CircuitState.Closed, breaker.State);
    }

    [Fact]
    public async Task WaitingMessages_AreRejectedWhenTheProbeReopens()
    {
        var (breaker, waiting) = await HalfOpenWithWaiter();

        Assert.True(breaker.OnFailure(probe: true, new InvalidOperationException("still down")));

        await Assert.ThrowsAsync<CircuitBreakerOpenException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal(CircuitState.Open, breaker.State);
        Assert.Equal(time.GetUtcNow().AddSeconds(10), registry.Find("orders")!.OpenUntil);
    }

    [Fact]
    public async Task ProbeEndingWithoutVerdict_ReleasesAWaitingMessage_AsTheNextProbe()
    {
        var (breaker, waiting) = await HalfOpenWithWaiter();

        // e.g. the probe failed permanently, was rejected by the bulkhead, moved to the back or was cancelled.
        breaker.OnAbandoned(probe: true);

        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        breaker.OnSuccess(probe: true);
        Assert.Equal(CircuitState.Closed, breaker.State);
    }

    [Fact]
    public async Task TheSameMessageFailingAgain_CountsOnce_ByItsId()
    {
        var breaker = Create();

        // One message, failing over and over (immediate retries, returns): one failure of one message, below MinimumThroughput (2).
        for (var i = 0; i < 5; i++)
        {
            Assert.False(await breaker.EnterAsync(CancellationToken.None));
            Assert.Equal(CircuitFailureVerdict.Failed, breaker.OnFailure(false, new InvalidOperationException("bad"), "m-1", failedBefore: false));
        }

        Assert.Equal(CircuitState.Closed, breaker.State);
        Assert.Equal(1, registry.Find("orders")!.Failures);

        // A message that came back through the delay ladder has failed before, even if this process never saw it.
        Assert.False(await breaker.EnterAsync(CancellationToken.None));
        Assert.Equal(CircuitFailureVerdict.Failed, breaker.OnFailure(false, new InvalidOperationException("bad"), "m-2", failedBefore: true));
        Assert.Equal(CircuitState.Closed, breaker.State);

        // A second fresh message trips it, as before.
        Assert.False(await breaker.EnterAsync(CancellationToken.None));
        Assert.Equal(CircuitFailureVerdict.Requeue, breaker.OnFailure(false, new InvalidOperationException("down"), "m-3", failedBefore: false));
        Assert.Equal(CircuitState.Open, breaker.State);
    }

    [Fact]
    public async Task ProbeThatFailsAgain_IsDeferred_AndReleasesAWaitingMessage_AsTheNextProbe()
    {
        var breaker = Create();
        Assert.False(await breaker.EnterAsync(CancellationToken.None));
        breaker.OnFailure(false, new InvalidOperationException("bad"), "bad-1", failedBefore: false);
        Assert.False(await breaker.EnterAsync(CancellationToken.None));
        Assert.Equal(CircuitFailureVerdict.Requeue, breaker.OnFailure(false, new InvalidOperationException("bad"), "bad-2", failedBefore: false));
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(await breaker.EnterAsync(CancellationToken.None));
        var waiting = breaker.EnterAsync(CancellationToken.None).AsTask();

        // The probe is bad-2 again, back at the head of the queue: not a verdict on the dependency.
        Assert.Equal(CircuitFailureVerdict.Defer, breaker.OnFailure(probe: true, new InvalidOperationException("bad"), "bad-2", failedBefore: false));
        Assert.Equal(TimeSpan.FromSeconds(5), breaker.DeferDelay);

        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        breaker.OnSuccess(probe: true);
        Assert.Equal(CircuitState.Closed, breaker.State);
    }

    [Fact]
    public async Task WaitingMessage_HonoursItsCancellation()
    {
        var breaker = Create();
        await Trip(breaker);
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(await breaker.EnterAsync(CancellationToken.None));
        using var cts = new CancellationTokenSource();

        var waiting = breaker.EnterAsync(cts.Token).AsTask();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
    }

    [Fact]
    public async Task BreakOnException_OpensAtTheFirstOne()
    {
        var breaker = Create(o => o.BreakOnExceptions.Add(typeof(TimeoutException).FullName!));

        Assert.False(await breaker.EnterAsync(CancellationToken.None));
        Assert.True(breaker.OnFailure(false, new InvalidOperationException("wrapper", new TimeoutException("db"))));

        Assert.Equal(CircuitState.Open, breaker.State);
    }

    [Fact]
    public async Task HealthCheck_IsDegradedWhileOpen()
    {
        var breaker = Create();
        var check = new CircuitBreakerHealthCheck(registry);
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, (await check.CheckHealthAsync(new(), TestContext.Current.CancellationToken)).Status);

        await Trip(breaker);

        var result = await check.CheckHealthAsync(new(), TestContext.Current.CancellationToken);
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded, result.Status);
        Assert.Equal("Open", result.Data["orders"]);
    }

    [Fact]
    public void SameName_SharesOneBreaker()
    {
        var first = registry.GetOrAdd("payments-api", new CircuitBreakerOptions());
        var second = registry.GetOrAdd("payments-api", new CircuitBreakerOptions { MinimumThroughput = 99 });
        Assert.Same(first, second);
    }
}
