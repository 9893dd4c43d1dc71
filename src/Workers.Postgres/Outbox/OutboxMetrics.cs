using System.Collections.Concurrent;
using System.Diagnostics;
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

    /// <summary>OpenTelemetry messaging conventions, producer side: every publish that reached the broker I/O (confirmed or failed).</summary>
    public static readonly Counter<long> Sent = WorkersDiagnostics.Meter.CreateCounter<long>(
        MessagingConventions.SentMessages, "{message}", "Outbox messages the dispatcher attempted to publish to the broker (error.type when the confirmed publish failed).");

    /// <summary>OpenTelemetry messaging conventions, producer side: each publish attempt until the broker's confirm or the failure.</summary>
    public static readonly Histogram<double> PublishDuration = MessagingConventions.CreateDuration(
        MessagingConventions.ClientOperationDuration, "Duration of one outbox publish until the broker confirmed it (or it failed).");

    private static readonly ConcurrentDictionary<OutboxBacklog, string> Backlogs = new();

    static OutboxMetrics()
    {
        WorkersDiagnostics.Meter.CreateObservableGauge("workers.outbox.lag", ObserveLag, "s", "Age of the oldest undelivered outbox message that can be dispatched (quarantined ones and those held behind them apart).");
        WorkersDiagnostics.Meter.CreateObservableGauge("workers.outbox.pending", ObservePending, "{message}", "Undelivered outbox messages (quarantined ones apart).");
        WorkersDiagnostics.Meter.CreateObservableGauge("workers.outbox.quarantined", ObserveQuarantined, "{message}", "Outbox messages quarantined after repeated failed dispatches (never dispatched until repaired).");
        WorkersDiagnostics.Meter.CreateObservableGauge("workers.outbox.held", ObserveHeld, "{message}", "Outbox messages held behind a quarantined message of their ordering key.");
    }

    public static void Register(OutboxBacklog backlog, string context) => Backlogs[backlog] = context;

    /// <summary>Records one publish attempt: <c>messaging.client.sent.messages</c> and <c>messaging.client.operation.duration</c>.</summary>
    /// <param name="exchange">The exchange published to (<c>messaging.destination.name</c>); null when unknown, then not tagged.</param>
    /// <param name="elapsed">From the start of the publish to its confirm or failure.</param>
    /// <param name="failure">The failure, tagged as <c>error.type</c>; null when confirmed.</param>
    public static void RecordPublish(string? exchange, TimeSpan elapsed, Exception? failure)
    {
        var tags = new TagList
        {
            { MessagingConventions.SystemAttribute, MessagingConventions.RabbitMq },
            { MessagingConventions.OperationNameAttribute, MessagingConventions.Publish },
            { MessagingConventions.OperationTypeAttribute, MessagingConventions.Send },
        };
        if (exchange is not null)
        {
            tags.Add(MessagingConventions.DestinationNameAttribute, exchange);
        }

        if (failure is not null)
        {
            tags.Add(MessagingConventions.ErrorTypeAttribute, MessagingConventions.ErrorType(failure));
        }

        Sent.Add(1, tags);
        PublishDuration.Record(elapsed.TotalSeconds, tags);
    }

    /// <summary>
    /// The exchange a MassTransit address on RabbitMQ names (pure): the last path segment of <c>rabbitmq://host/vhost/name</c>,
    /// or the name of a short address (<c>queue:name</c>, <c>exchange:name</c>). MassTransit sends to a queue through
    /// the exchange of the same name bound to it, so for <c>queue:orders</c> the exchange is <c>orders</c>.
    /// </summary>
    public static string? ExchangeName(Uri address)
    {
        var path = address.IsAbsoluteUri ? address.AbsolutePath : address.OriginalString;
        path = path.TrimEnd('/');
        var name = Uri.UnescapeDataString(path[(path.LastIndexOf('/') + 1)..]);
        return name.Length == 0 ? null : name;
    }

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
