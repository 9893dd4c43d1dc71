using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Workers.Hosting;

namespace Workers.Exporters;

/// <summary>Maps the Prometheus scrape endpoint of the exporters added by <see cref="WorkersExportersHostApplicationBuilderExtensions.AddWorkersExporters"/>.</summary>
public static class WorkersMetricsEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <see cref="WorkersHealth.MetricsPath"/> (<c>/metrics</c>, Prometheus text format) for the <c>Workers</c> and
    /// <c>MassTransit</c> meters (and any other meter the app adds). Call it next to <c>MapWorkersEndpoints</c>.
    /// </summary>
    /// <param name="endpoints">The application's endpoint builder.</param>
    public static IEndpointRouteBuilder MapWorkersMetrics(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapPrometheusScrapingEndpoint(WorkersHealth.MetricsPath);
        return endpoints;
    }
}
