using System.ComponentModel.DataAnnotations;
using Workers.Postgres.Outbox;

namespace Workers.Postgres;

/// <summary>Settings of the outbox dispatcher (configuration section <c>Workers:Outbox</c>).</summary>
public sealed class OutboxOptions
{
    /// <summary>Rows claimed per round. Default 100.</summary>
    [Range(1, 10_000)]
    public int BatchSize { get; set; } = OutboxConstants.DefaultBatchSize;

    /// <summary>Polling fallback when no NOTIFY arrives. Default 1 s.</summary>
    public TimeSpan PollingInterval { get; set; } = OutboxConstants.DefaultPollingInterval;

    /// <summary>How long a claim is held; a crashed dispatcher's rows are taken over after it. Default 30 s.</summary>
    public TimeSpan LeaseDuration { get; set; } = OutboxConstants.DefaultLeaseDuration;

    /// <summary>Bound on one publish, confirm included; must be shorter than <see cref="LeaseDuration"/>. Default 10 s.</summary>
    public TimeSpan PublishTimeout { get; set; } = OutboxConstants.DefaultPublishTimeout;

    /// <summary>First back-off after a failed publish (doubles per attempt). Default 1 s.</summary>
    public TimeSpan RetryDelay { get; set; } = OutboxConstants.DefaultRetryDelay;

    /// <summary>Largest back-off after failed publishes. Default 1 min.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = OutboxConstants.DefaultMaxRetryDelay;

    /// <summary>
    /// A row whose dispatch fails this many times for a reason of its own (unknown message type, e.g. after a rename;
    /// unreadable body or headers; invalid destination) is quarantined with the reason: no longer dispatched, listed in
    /// the <c>workers_outbox_quarantine</c> view, counted in status. Later rows of its ordering key stay held (never
    /// dispatched out of order) until an operator deletes or repairs it. Broker outages and unroutable publishes are
    /// not counted: they are retried with back-off for as long as they last. Default 10; at least 1.
    /// </summary>
    public int MaxDispatchAttempts { get; set; } = OutboxConstants.DefaultMaxDispatchAttempts;

    /// <summary>Dispatched rows are deleted after this long. Default 1 h; zero deletes at the next maintenance round.</summary>
    public TimeSpan DispatchedRetention { get; set; } = OutboxConstants.DefaultDispatchedRetention;

    /// <summary>Dispatched rows deleted by one purge statement (1–100000). Default 1000: each statement stays short.</summary>
    public int PurgeBatchSize { get; set; } = OutboxConstants.DefaultPurgeBatchSize;

    /// <summary>
    /// Purge statements per maintenance round (1–100000): the purge keeps deleting while a batch comes back full, up to
    /// this many. Default 50, so one replica purges up to <see cref="PurgeBatchSize"/> × 50 = 50,000 rows per <see cref="MaintenanceInterval"/>.
    /// </summary>
    public int MaxPurgeBatches { get; set; } = OutboxConstants.DefaultMaxPurgeBatches;

    /// <summary>How often the backlog is measured and retention applied. Default 5 s.</summary>
    public TimeSpan MaintenanceInterval { get; set; } = OutboxConstants.DefaultMaintenanceInterval;

    /// <summary>The health check reports Degraded when the oldest undelivered row is older. Default 1 min.</summary>
    public TimeSpan LagDegradedThreshold { get; set; } = OutboxConstants.DefaultLagDegradedThreshold;

    /// <summary>How often every configured host is asked whether it is primary (split-brain guard). Default 5 s.</summary>
    public TimeSpan TopologyCheckInterval { get; set; } = OutboxConstants.DefaultTopologyCheckInterval;

    /// <summary>Wake on commit through LISTEN/NOTIFY (in this process and across replicas). Default true.</summary>
    public bool UseNotifications { get; set; } = true;

    /// <summary>Run <see cref="WorkersSchema.ApplyAsync(Microsoft.EntityFrameworkCore.DbContext, CancellationToken)"/> when the dispatcher starts. Default false.</summary>
    public bool ApplySchemaOnStartup { get; set; }

    /// <summary>Run the dispatcher in this process. Default true (every replica dispatches; claims never overlap).</summary>
    public bool EnableDispatcher { get; set; } = true;

    /// <summary>Every error at once, each with its option path (e.g. <c>Workers:Outbox:PublishTimeout must be shorter than LeaseDuration</c>).</summary>
    /// <param name="path">The configuration path of these options.</param>
    /// <returns>The errors; empty when valid.</returns>
    public IReadOnlyList<string> Validate(string path = OutboxConstants.SectionPath)
    {
        var errors = new List<string>();
        if (BatchSize is < 1 or > 10_000)
        {
            errors.Add($"{path}:{nameof(BatchSize)} must be between 1 and 10000 (was {BatchSize}).");
        }

        if (MaxDispatchAttempts < 1)
        {
            errors.Add($"{path}:{nameof(MaxDispatchAttempts)} must be at least 1 (was {MaxDispatchAttempts}).");
        }

        Positive(errors, path, nameof(PollingInterval), PollingInterval);
        Positive(errors, path, nameof(LeaseDuration), LeaseDuration);
        Positive(errors, path, nameof(PublishTimeout), PublishTimeout);
        Positive(errors, path, nameof(RetryDelay), RetryDelay);
        Positive(errors, path, nameof(MaxRetryDelay), MaxRetryDelay);
        Positive(errors, path, nameof(MaintenanceInterval), MaintenanceInterval);
        Positive(errors, path, nameof(LagDegradedThreshold), LagDegradedThreshold);
        Positive(errors, path, nameof(TopologyCheckInterval), TopologyCheckInterval);
        if (DispatchedRetention < TimeSpan.Zero)
        {
            errors.Add($"{path}:{nameof(DispatchedRetention)} must not be negative (was {DispatchedRetention}).");
        }

        if (PurgeBatchSize is < 1 or > OutboxConstants.MaxPurgeBatchSize)
        {
            errors.Add($"{path}:{nameof(PurgeBatchSize)} must be between 1 and {OutboxConstants.MaxPurgeBatchSize} (was {PurgeBatchSize}).");
        }

        if (MaxPurgeBatches is < 1 or > OutboxConstants.MaxMaxPurgeBatches)
        {
            errors.Add($"{path}:{nameof(MaxPurgeBatches)} must be between 1 and {OutboxConstants.MaxMaxPurgeBatches} (was {MaxPurgeBatches}).");
        }

        if (PublishTimeout >= LeaseDuration)
        {
            errors.Add($"{path}:{nameof(PublishTimeout)} ({PublishTimeout}) must be shorter than {nameof(LeaseDuration)} ({LeaseDuration}), or another dispatcher takes the row over mid-publish.");
        }

        if (MaxRetryDelay < RetryDelay)
        {
            errors.Add($"{path}:{nameof(MaxRetryDelay)} ({MaxRetryDelay}) must be >= {nameof(RetryDelay)} ({RetryDelay}).");
        }

        return errors;
    }

    private static void Positive(List<string> errors, string path, string name, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"{path}:{name} must be positive (was {value}).");
        }
    }
}
