using Microsoft.Extensions.Diagnostics.HealthChecks;
using Workers.Resilience;
using Xunit;

namespace Workers.Hosting.Tests.Health;

/// <summary>The readiness decision over the endpoints' states and the breakers' snapshots: no bus, no broker.</summary>
public sealed class EndpointsReadinessCheckTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void AllConsuming_Healthy()
    {
        var result = Evaluate(busUnhealthy: false, [Ready("submit-order"), Ready("order-accepted")]);

        Assert.Equal(HealthStatus.Healthy, result.Status);
    }

    [Fact]
    public void Reconnecting_NoBreakerOpen_Unhealthy_ThoughMassTransitSaysOnlyDegraded()
    {
        var result = Evaluate(busUnhealthy: false, [NotReady("submit-order", "starting"), NotReady("order-accepted", "starting")]);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("submit-order, order-accepted", result.Description, StringComparison.Ordinal);
        Assert.Equal("not ready (starting)", result.Data["submit-order"]);
    }

    [Theory]
    [InlineData(CircuitState.Open, "stopped (delivered 20 messages)")]
    [InlineData(CircuitState.HalfOpen, "starting")]
    public void PausedOrProbingByItsBreaker_OthersConsuming_Degraded(CircuitState state, string description)
    {
        var result = Evaluate(busUnhealthy: false, [NotReady("submit-order", description), Ready("order-accepted")], Breaker("payments", state, "submit-order"));

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Equal($"paused (circuit payments {state})", result.Data["submit-order"]);
        Assert.Equal("ready", result.Data["order-accepted"]);
    }

    [Fact]
    public void OnePaused_AnotherReconnecting_Unhealthy()
    {
        var result = Evaluate(busUnhealthy: false, [NotReady("submit-order", "stopped"), NotReady("order-accepted", "faulted")], Breaker("payments", CircuitState.Open, "submit-order"));

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("order-accepted", result.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("submit-order", result.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void ClosedBreaker_EndpointNotReady_Unhealthy()
    {
        var result = Evaluate(busUnhealthy: false, [NotReady("submit-order", "faulted")], Breaker("payments", CircuitState.Closed, "submit-order"));

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
    }

    [Theory]
    [InlineData(false, HealthStatus.Degraded)]
    [InlineData(true, HealthStatus.Unhealthy)]
    public void AllPaused_TheBusVerdictDecides(bool busUnhealthy, HealthStatus expected)
    {
        var result = Evaluate(busUnhealthy, [NotReady("submit-order", "stopped"), NotReady("order-accepted", "stopped")], Breaker("shared", CircuitState.Open, "submit-order", "order-accepted"));

        Assert.Equal(expected, result.Status);
    }

    [Theory]
    [InlineData(false, HealthStatus.Healthy)]
    [InlineData(true, HealthStatus.Unhealthy)]
    public void NoEndpoint_TheBusVerdictDecides(bool busUnhealthy, HealthStatus expected)
    {
        Assert.Equal(expected, Evaluate(busUnhealthy, []).Status);
    }

    private static HealthCheckResult Evaluate(bool busUnhealthy, IReadOnlyList<EndpointReadiness> endpoints, params CircuitBreakerSnapshot[] breakers) =>
        EndpointsReadinessCheck.Evaluate(busUnhealthy, endpoints, breakers);

    private static EndpointReadiness Ready(string queue) => new(queue, true, "ready");

    private static EndpointReadiness NotReady(string queue, string description) => new(queue, false, description);

    private static CircuitBreakerSnapshot Breaker(string name, CircuitState state, params string[] queues) =>
        new(name, state, [.. queues.Select(q => new Uri($"rabbitmq://127.0.0.1/orders/{q}"))], 0, 20, state == CircuitState.Closed ? null : Now.AddSeconds(5), 1, Now, "payments down");
}
