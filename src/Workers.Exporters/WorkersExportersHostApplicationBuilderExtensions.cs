using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Workers.Hosting;

namespace Workers.Exporters;

/// <summary>
/// Opt-in exporters for the workers' telemetry: <c>builder.AddWorkersExporters()</c> next to <c>AddWorkers</c>, then
/// <c>app.MapWorkersMetrics()</c>. An app that chooses its own exporters (Aspire's ServiceDefaults,
/// <c>UseOtlpExporter()</c>) leaves this package out and adds the meter and source names of
/// <see cref="Workers.Resilience.WorkersTelemetry"/> (and <c>MassTransit</c>) to its own pipeline.
/// </summary>
public static class WorkersExportersHostApplicationBuilderExtensions
{
    /// <summary>
    /// Adds Workers' own exporters to OpenTelemetry: the Prometheus exporter (served by
    /// <see cref="WorkersMetricsEndpointRouteBuilderExtensions.MapWorkersMetrics"/>; <c>Workers:Telemetry:Prometheus=false</c>
    /// leaves it out), OTLP for metrics and traces when the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, and the
    /// application's name as <c>service.name</c>. Nothing when <c>Workers:Telemetry:Enabled=false</c>. Which traces are
    /// recorded stays <c>AddWorkers</c>' decision (<see cref="TelemetryOptions.Tracing"/>).
    /// </summary>
    /// <param name="builder">The host builder (the same one <c>AddWorkers</c> was called on).</param>
    public static IHostApplicationBuilder AddWorkersExporters(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var telemetry = builder.Configuration.GetSection($"{WorkersOptions.SectionName}:Telemetry").Get<TelemetryOptions>() ?? new TelemetryOptions();
        if (!telemetry.Enabled)
        {
            return builder;
        }

        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration[TelemetryOptions.OtlpEndpointVariable]);
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(builder.Environment.ApplicationName))
            .WithMetrics(metrics =>
            {
                if (telemetry.Prometheus)
                {
                    metrics.AddPrometheusExporter();
                }

                if (otlp)
                {
                    metrics.AddOtlpExporter();
                }
            });
        // Traces go to OTLP when AddWorkers records them (Workers:Telemetry:Tracing, by default with OTLP only).
        if (otlp && (telemetry.Tracing ?? true))
        {
            otel.WithTracing(tracing => tracing.AddOtlpExporter());
        }

        return builder;
    }
}
