using System.ComponentModel.DataAnnotations;

namespace Workers.Hosting;

/// <summary>
/// The <c>Workers</c> configuration section: broker connection, shutdown behaviour and per-endpoint settings.
/// Validated when the host starts; every invalid value is reported at once with its full path.
/// </summary>
public sealed class WorkersOptions
{
    /// <summary>The configuration section bound to these options.</summary>
    public const string SectionName = "Workers";

    /// <summary>Default for <see cref="ShutdownTimeout"/>: 30 seconds.</summary>
    public static readonly TimeSpan DefaultShutdownTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The RabbitMQ broker (or cluster) the workers consume from.</summary>
    [Required]
    public RabbitMqOptions RabbitMq { get; set; } = new();

    /// <summary>
    /// On SIGTERM, how long in-flight messages may run to completion. Messages not finished by then are
    /// cancelled and return to their queue unacknowledged (none lost, none acked unprocessed). Between 1 s and 1 h.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = DefaultShutdownTimeout;

    /// <summary>The outbox and inbox database (when the workers use PostgreSQL).</summary>
    public PostgresOptions Postgres { get; set; } = new();

    /// <summary>
    /// Let MassTransit report its usage telemetry to its vendor's endpoint (off by default: a worker makes no outbound
    /// connection but to its broker and database). <c>Workers:MassTransitUsageTelemetry=true</c> opts in.
    /// </summary>
    public bool MassTransitUsageTelemetry { get; set; }

    /// <summary>Restarts a receive endpoint that reports ready but consumes nothing (off by default: set <c>Enabled</c> to turn it on).</summary>
    public ConsumerWatchdogOptions ConsumerWatchdog { get; set; } = new();

    /// <summary>Ingests the dead-letter queues into the PostgreSQL failure store (off by default: set <c>Enabled</c> to turn it on).</summary>
    public FailureStoreOptions FailureStore { get; set; } = new();

    /// <summary>Metrics and traces (OpenTelemetry).</summary>
    public TelemetryOptions Telemetry { get; set; } = new();

    /// <summary>Settings every endpoint takes unless it sets its own (e.g. <c>Workers:Defaults:QueueType=Quorum</c>).</summary>
    public EndpointOptions Defaults { get; set; } = new();

    /// <summary>Per receive endpoint (queue name) settings: queue type, prefetch, concurrency, resilience stages.</summary>
    public IDictionary<string, EndpointOptions> Endpoints { get; } = new Dictionary<string, EndpointOptions>(StringComparer.Ordinal);
}
