using Microsoft.Extensions.Logging;

namespace Workers.Hosting;

/// <summary>
/// Metrics and traces through OpenTelemetry: <c>AddWorkers</c> adds the <c>Workers</c> and <c>MassTransit</c> meters
/// and activity sources to the app's OpenTelemetry pipeline and chooses no exporter. Workers' own exporters are an
/// opt-in (<c>AddWorkersExporters()</c>, package WorkersFx.Exporters): Prometheus, and OTLP when the standard
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> variable is set.
/// </summary>
public sealed class TelemetryOptions
{
    /// <summary>Environment variable of the OTLP endpoint (OpenTelemetry's own name).</summary>
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>Register OpenTelemetry metrics and tracing (on by default).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>With <c>AddWorkersExporters()</c> (WorkersFx.Exporters): add the Prometheus exporter that <c>MapWorkersMetrics()</c> serves at <c>/metrics</c>.</summary>
    public bool Prometheus { get; set; } = true;

    /// <summary>
    /// Record traces of the <c>Workers</c> and <c>MassTransit</c> activity sources. Unset (the default): only when
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, because a recorded span costs CPU on every message even when no
    /// exporter sends it anywhere (in the benchmarks it halved end-to-end throughput). Set it to true when you add
    /// an exporter of your own to OpenTelemetry's tracer provider; false turns tracing off even with OTLP.
    /// </summary>
    public bool? Tracing { get; set; }

    /// <summary>
    /// The level of MassTransit's own per-attempt consume-fault entry (<c>R-FAULT …</c>, with the exception's stack),
    /// which MassTransit writes at error level for every failed attempt, also for one Workers is about to redeliver.
    /// Workers logs the outcome of each failed attempt itself, once: a redelivery scheduled (event 3002, warning), the
    /// message dead-lettered (3003, error, with the exception). Default <c>Debug</c>; <c>Error</c> restores
    /// MassTransit's behaviour, <c>None</c> drops the entry. Every other MassTransit entry keeps its level.
    /// </summary>
    public LogLevel MassTransitFaultLogLevel { get; set; } = LogLevel.Debug;
}
