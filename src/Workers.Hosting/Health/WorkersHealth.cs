namespace Workers.Hosting;

/// <summary>Tags and paths of the workers' health checks.</summary>
public static class WorkersHealth
{
    /// <summary>
    /// Tag of the checks reported at <see cref="ReadyPath"/> (broker connection, circuit breakers, outbox lag). Only an
    /// unhealthy one makes readiness fail; a degraded one is reported in the body and answers 200.
    /// </summary>
    public const string ReadyTag = "ready";

    /// <summary>Tag of the checks that decide liveness (the process can still make progress).</summary>
    public const string LiveTag = "live";

    /// <summary>Liveness: 200 while the process runs its host.</summary>
    public const string LivePath = "/health/live";

    /// <summary>
    /// Readiness: "this process can take work: its host runs and its own broker connection is up". 503 only when a
    /// check is unhealthy (the bus is not started or lost its broker connection, or the outbox refuses writes because
    /// two PostgreSQL hosts claim to be primary). 200 when healthy, and 200 when degraded: a circuit open because a
    /// shared dependency is down (its endpoint paused, its messages held in the broker), the inbox database unavailable
    /// (messages held), an endpoint stopped, or the outbox lagging are the same on every replica, so taking every pod out of readiness would only stall rollouts
    /// and evictions. They stay visible: the JSON body names each degraded check and why, and
    /// <see cref="StatusPath"/> and the circuit metrics show every circuit's state.
    /// </summary>
    public const string ReadyPath = "/health/ready";

    /// <summary>The worker's own state (circuits, bulkheads, outbox backlog) as JSON.</summary>
    public const string StatusPath = "/workers/status";

    /// <summary>Prometheus scrape endpoint of the <c>Workers</c> and <c>MassTransit</c> meters.</summary>
    public const string MetricsPath = "/metrics";
}
