namespace Workers.Hosting;

/// <summary>Tags and paths of the workers' health checks.</summary>
public static class WorkersHealth
{
    /// <summary>Tag of the checks that decide readiness (broker connection, circuit breakers, outbox lag).</summary>
    public const string ReadyTag = "ready";

    /// <summary>Tag of the checks that decide liveness (the process can still make progress).</summary>
    public const string LiveTag = "live";

    /// <summary>Liveness: 200 while the process runs its host.</summary>
    public const string LivePath = "/health/live";

    /// <summary>Readiness: 200 when healthy; 503 when degraded or unhealthy (the JSON body says which check and why).</summary>
    public const string ReadyPath = "/health/ready";

    /// <summary>The worker's own state (circuits, bulkheads, outbox backlog) as JSON.</summary>
    public const string StatusPath = "/workers/status";

    /// <summary>Prometheus scrape endpoint of the <c>Workers</c> and <c>MassTransit</c> meters.</summary>
    public const string MetricsPath = "/metrics";
}
