using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Workers.Resilience.Telemetry;

namespace Workers.Postgres.Outbox;

/// <summary>The outbox instruments on the shared <c>Workers</c> meter.</summary>
internal static class OutboxMetrics
{
    public static readonly Counter<long> Dispatched = WorkersDiagnostics.Meter.CreateCounter<long>("workers.outbox.dispatched", "{message}", "Outbox messages confirmed by the broker.");
    public static readonly Counter<long> DispatchFailures = WorkersDiagnostics.Meter.CreateCounter<long>("workers.outbox.dispatch_failures", "{message}", "Outbox publishes that failed and were backed off.");
    public static readonly Counter<long> Unroutable = WorkersDiagnostics.Meter.CreateCounter<long>("workers.outbox.unroutable", "{message}", "Outbox publishes returned by the broker as unroutable (no queue bound); kept pending and retried.");
    public static readonly Counter<long> Claimed = WorkersDiagnostics.Meter.CreateCounter<long>("workers.outbox.claimed", "{message}", "Outbox rows claimed by a dispatcher.");
    public static readonly Histogram<long> Purged = WorkersDiagnostics.Meter.CreateHistogram<long>("workers.outbox.purge.deleted", "{row}", "Dispatched outbox rows deleted by one purge round.");
    public static readonly Histogram<long> KeysPurged = WorkersDiagnostics.Meter.CreateHistogram<long>("workers.outbox.purge.keys_deleted", "{row}", "Idle ordering-key rows (no undispatched message) deleted by one purge round.");

    private static readonly ConcurrentDictionary<OutboxBacklog, string> Backlogs = new();

    static OutboxMetrics()
    {
        WorkersDiagnostics.Meter.CreateObservableGauge("workers.outbox.lag", ObserveLag, "s", "Age of the oldest undelivered outbox message that can be dispatched (quarantined ones and those held behind them apart).");
        WorkersDiagnostics.Meter.CreateObservableGauge("workers.outbox.pending", ObservePending, "{message}", "Undelivered outbox messages (quarantined ones apart).");
        WorkersDiagnostics.Meter.CreateObservableGauge("workers.outbox.quarantined", ObserveQuarantined, "{message}", "Outbox messages quarantined after repeated failed dispatches (never dispatched until repaired).");
        WorkersDiagnostics.Meter.CreateObservableGauge("workers.outbox.held", ObserveHeld, "{message}", "Outbox messages held behind a quarantined message of their ordering key.");
    }

    public static void Register(OutboxBacklog backlog, string context) => Backlogs[backlog] = context;

    public static void Unregister(OutboxBacklog backlog) => Backlogs.TryRemove(backlog, out _);

    private static IEnumerable<Measurement<double>> ObserveLag() =>
        Backlogs.Select(b => new Measurement<double>(b.Key.Lag.TotalSeconds, new KeyValuePair<string, object?>("db.context", b.Value)));

    private static IEnumerable<Measurement<long>> ObservePending() =>
        Backlogs.Select(b => new Measurement<long>(b.Key.Snapshot?.Pending ?? 0, new KeyValuePair<string, object?>("db.context", b.Value)));

    private static IEnumerable<Measurement<long>> ObserveQuarantined() =>
        Backlogs.Select(b => new Measurement<long>(b.Key.Snapshot?.Quarantined ?? 0, new KeyValuePair<string, object?>("db.context", b.Value)));

    private static IEnumerable<Measurement<long>> ObserveHeld() =>
        Backlogs.Select(b => new Measurement<long>(b.Key.Snapshot?.Held ?? 0, new KeyValuePair<string, object?>("db.context", b.Value)));
}

/// <summary>The last backlog measurement of one outbox table.</summary>
internal sealed class OutboxBacklog(TimeProvider timeProvider)
{
    private OutboxBacklogSnapshot? snapshot;

    public OutboxBacklogSnapshot? Snapshot
    {
        get => snapshot;
        set => snapshot = value;
    }

    /// <summary>Age of the oldest undelivered row, as of now.</summary>
    public TimeSpan Lag => OutboxLease.Lag(snapshot?.OldestCreatedAt, timeProvider.GetUtcNow());
}
