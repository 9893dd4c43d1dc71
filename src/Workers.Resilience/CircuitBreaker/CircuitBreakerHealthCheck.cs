using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Workers.Resilience;

/// <summary>
/// Health of the endpoint circuit breakers: <see cref="HealthStatus.Degraded"/> while any breaker is open or
/// half-open (its endpoints are paused or probing), healthy otherwise. The data lists every breaker's state.
/// Degraded, never unhealthy: an open circuit means a dependency is down, which every replica sees alike, not that
/// this process cannot work (Workers.Hosting's readiness stays 200 while degraded).
/// </summary>
public sealed class CircuitBreakerHealthCheck : IHealthCheck
{
    private readonly CircuitBreakerRegistry registry;

    /// <summary>Creates the check over the registry.</summary>
    /// <param name="registry">The breakers to report.</param>
    public CircuitBreakerHealthCheck(CircuitBreakerRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        this.registry = registry;
    }

    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var snapshots = registry.GetSnapshots();
        var data = snapshots.ToDictionary(s => s.Name, s => (object)s.State.ToString(), StringComparer.Ordinal);
        var notClosed = snapshots.Where(s => s.State != CircuitState.Closed).Select(s => $"{s.Name} is {s.State}").ToList();
        var result = notClosed.Count == 0
            ? HealthCheckResult.Healthy($"{snapshots.Count} circuit breaker(s) closed.", data)
            : HealthCheckResult.Degraded($"Endpoints paused: {string.Join(", ", notClosed)}.", data: data);
        return Task.FromResult(result);
    }
}
