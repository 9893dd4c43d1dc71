using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Workers.Resilience;

namespace Workers.Hosting;

/// <summary>The queues this worker consumes from, in registration order.</summary>
internal sealed record WorkerEndpointCatalog(IReadOnlyList<string> Queues);

/// <summary>
/// The worker's own state, served at <c>/workers/status</c> and read by <c>workers status --worker-url</c>:
/// per endpoint its circuit state, bulkhead usage and timeouts, and the outbox backlog (pending, lag, quarantined
/// rows and the rows held behind them).
/// </summary>
internal static class WorkerStatus
{
    private const string OutboxCheck = "workers-outbox";

    public static async Task<IResult> GetAsync(HttpContext http)
    {
        var services = http.RequestServices;
        var queues = services.GetService<WorkerEndpointCatalog>()?.Queues ?? [];
        var breakers = services.GetService<CircuitBreakerRegistry>()?.GetSnapshots() ?? [];
        var bulkheads = services.GetService<BulkheadRegistry>()?.GetSnapshots() ?? [];
        var timeouts = services.GetService<ConsumerTimeoutRegistry>()?.GetSnapshots() ?? [];

        var endpoints = queues.Select(queue =>
        {
            var breaker = breakers.FirstOrDefault(b => b.Endpoints.Any(e => QueueOf(e) == queue));
            var bulkhead = bulkheads.FirstOrDefault(b => b.Consumer == queue);
            var timeout = timeouts.FirstOrDefault(t => t.Consumer == queue);
            return new
            {
                name = queue,
                circuitState = breaker?.State.ToString(),
                circuitOpenUntil = breaker?.OpenUntil,
                bulkheadInFlight = bulkhead?.InFlight,
                bulkheadWaiting = bulkhead?.Waiting,
                bulkheadLimit = bulkhead?.PermitLimit,
                bulkheadRejected = bulkhead?.Rejected,
                timedOut = timeout?.TimedOut,
                ignoredCancellation = timeout?.IgnoredCancellation,
            };
        }).ToList();

        object? outbox = null;
        if (services.GetService<HealthCheckService>() is { } health)
        {
            var report = await health.CheckHealthAsync(check => check.Name == OutboxCheck, http.RequestAborted).ConfigureAwait(false);
            if (report.Entries.TryGetValue(OutboxCheck, out var entry))
            {
                outbox = new
                {
                    status = entry.Status.ToString(),
                    pending = entry.Data.TryGetValue("pending", out var pending) ? pending : null,
                    lagSeconds = entry.Data.TryGetValue("lag_seconds", out var lag) ? lag : null,
                    quarantined = entry.Data.TryGetValue("quarantined", out var quarantined) ? quarantined : null,
                    held = entry.Data.TryGetValue("held", out var held) ? held : null,
                    // The database hosts as the split-brain check last saw them: OnePrimary, NoPrimary (failing over), SplitBrain.
                    topology = entry.Data.TryGetValue("topology", out var topology) ? topology : null,
                    description = entry.Description,
                };
            }
        }

        return Results.Json(new { endpoints, outbox });
    }

    private static string QueueOf(Uri endpoint) => endpoint.Segments.Length == 0 ? string.Empty : endpoint.Segments[^1].Trim('/');
}
