using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Workers.Hosting;

/// <summary>Maps the worker's HTTP endpoints: liveness, readiness and status (the Prometheus scrape is opt-in: <c>MapWorkersMetrics</c> of WorkersFx.Exporters).</summary>
public static class WorkersEndpointRouteBuilderExtensions
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    /// <summary>
    /// Maps <c>/health/live</c> (200 while the host runs), <c>/health/ready</c> (JSON: overall status and each
    /// check's status and description; see <see cref="WorkersHealth.ReadyPath"/> for what readiness means),
    /// and <c>/workers/status</c> (JSON: each endpoint's circuit state and bulkhead usage, the outbox backlog — what
    /// <c>workers status --worker-url</c> reads). <c>/metrics</c> is no longer mapped here: Workers chooses no exporter
    /// for the app; add the WorkersFx.Exporters package and call <c>MapWorkersMetrics()</c> for the Prometheus scrape.
    /// </summary>
    /// <param name="endpoints">The application's endpoint builder.</param>
    public static IEndpointRouteBuilder MapWorkersEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapHealthChecks(WorkersHealth.LivePath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(WorkersHealth.LiveTag),
            ResponseWriter = WriteReport,
        });
        endpoints.MapHealthChecks(WorkersHealth.ReadyPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(WorkersHealth.ReadyTag),
            ResponseWriter = WriteReport,
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                // Degraded (a circuit open, an endpoint paused, outbox lag) is reported, not a reason to take the pod
                // out: it is the same on every replica (see WorkersHealth.ReadyPath).
                [HealthStatus.Degraded] = StatusCodes.Status200OK,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        });
        endpoints.MapGet(WorkersHealth.StatusPath, (Delegate)WorkerStatus.GetAsync);
        return endpoints;
    }

    private static Task WriteReport(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new
        {
            status = report.Status.ToString(),
            durationMs = Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            checks = report.Entries.ToDictionary(
                e => e.Key,
                e => new { status = e.Value.Status.ToString(), description = e.Value.Description, error = e.Value.Exception?.Message }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, Json), context.RequestAborted);
    }
}
