using MassTransit;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Workers.Resilience;

namespace Workers.Hosting;

/// <summary>
/// Readiness of this process's own consumption (see <see cref="WorkersHealth.ReadyPath"/>): unhealthy while an
/// endpoint that should consume is not ready — the bus is not started, or lost its broker connection and is
/// reconnecting — and degraded while circuit breakers hold endpoints paused (a dependency is down: the same on every
/// replica). MassTransit's own bus check cannot tell the two apart: it reports a reconnecting endpoint and a paused
/// one alike as degraded.
/// </summary>
internal sealed class EndpointsReadinessCheck(IBusControl bus, CircuitBreakerRegistry breakers) : IHealthCheck
{
    /// <summary>The check's name in the health report.</summary>
    public const string Name = "workers-endpoints";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var health = bus.CheckHealth();
        var endpoints = health.Endpoints.Values
            .Select(e => new EndpointReadiness(QueueOf(e.InputAddress), e.Status == BusHealthStatus.Healthy, e.Description))
            .ToList();
        return Task.FromResult(Evaluate(health.Status == BusHealthStatus.Unhealthy, endpoints, breakers.GetSnapshots()));
    }

    /// <summary>
    /// The decision, without a bus: every endpoint no breaker holds paused must be ready. With none running (no endpoint,
    /// or all paused) MassTransit's own verdict on the bus decides whether it is unhealthy.
    /// </summary>
    internal static HealthCheckResult Evaluate(bool busUnhealthy, IReadOnlyList<EndpointReadiness> endpoints, IReadOnlyList<CircuitBreakerSnapshot> breakers)
    {
        var paused = breakers
            .Where(b => b.State != CircuitState.Closed)
            .SelectMany(b => b.Endpoints.Select(e => (Queue: QueueOf(e), Breaker: b)))
            .GroupBy(p => p.Queue, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First().Breaker, StringComparer.Ordinal);
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var notReady = new List<string>();
        var pausedNames = new List<string>();
        foreach (var endpoint in endpoints)
        {
            if (paused.TryGetValue(endpoint.Queue, out var breaker))
            {
                data[endpoint.Queue] = $"paused (circuit {breaker.Name} {breaker.State})";
                pausedNames.Add(endpoint.Queue);
            }
            else
            {
                data[endpoint.Queue] = endpoint.Ready ? "ready" : $"not ready ({endpoint.Description})";
                if (!endpoint.Ready)
                {
                    notReady.Add(endpoint.Queue);
                }
            }
        }

        if (notReady.Count > 0)
        {
            return HealthCheckResult.Unhealthy($"Not consuming: {string.Join(", ", notReady)} (broker connection down or bus not started).", data: data);
        }

        if (busUnhealthy && pausedNames.Count == endpoints.Count)
        {
            return HealthCheckResult.Unhealthy("The bus is not ready.", data: data);
        }

        return pausedNames.Count > 0
            ? HealthCheckResult.Degraded($"Paused by their circuit breaker: {string.Join(", ", pausedNames)}.", data: data)
            : HealthCheckResult.Healthy($"{endpoints.Count} endpoint(s) consuming.", data);
    }

    private static string QueueOf(Uri address) => address.Segments.Length == 0 ? string.Empty : address.Segments[^1].Trim('/');
}

/// <summary>One receive endpoint as the readiness decision sees it.</summary>
/// <param name="Queue">The endpoint's queue (the last segment of its input address).</param>
/// <param name="Ready">MassTransit reports it healthy (started and consuming).</param>
/// <param name="Description">MassTransit's description of its state.</param>
internal readonly record struct EndpointReadiness(string Queue, bool Ready, string? Description);
