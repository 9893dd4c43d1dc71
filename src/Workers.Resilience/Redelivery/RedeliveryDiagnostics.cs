using System.Diagnostics;
using System.Diagnostics.Metrics;
using Workers.Resilience.Telemetry;

namespace Workers.Resilience.Redelivery;

/// <summary>Instruments of the redelivery and dead-letter stages (on the one <c>Workers</c> meter).</summary>
internal static class RedeliveryDiagnostics
{
    public const string ScheduledName = "workers.redelivery.scheduled";
    /// <summary>Deprecated name (a counter named <c>.count</c>; Prometheus shows <c>workers_deadletter_count_total</c>): kept for existing dashboards, <see cref="MovedName"/> replaces it.</summary>
    public const string DeadLetteredName = "workers.deadletter.count";
    public const string MovedName = "workers.deadletter.moved";
    public const string ScheduledEvent = "workers.redelivery.scheduled";
    public const string DeadLetteredEvent = "workers.deadletter";
    public const string ImmediateRetryEvent = "workers.redelivery.immediate_retry";
    public const string HeldName = "workers.redelivery.held";
    public const string HeldEvent = "workers.redelivery.held";
    public const string HoldLimitEvent = "workers.redelivery.hold_limit";
    public const string DeferredEvent = "workers.redelivery.deferred";

    public static readonly Counter<long> Scheduled = WorkersDiagnostics.Meter.CreateCounter<long>(
        ScheduledName, unit: "{message}", description: "Messages re-scheduled through the broker's delay ladder after a transient failure.");

    public static readonly Counter<long> DeadLettered = WorkersDiagnostics.Meter.CreateCounter<long>(
        DeadLetteredName, unit: "{message}", description: "Deprecated: use workers.deadletter.moved (same value and tags). Messages moved to an error queue (reason: exhausted, permanent, redelivery-refused or broker-unavailable).");

    public static readonly Counter<long> Moved = WorkersDiagnostics.Meter.CreateCounter<long>(
        MovedName, unit: "{message}", description: "Messages moved to an error queue (reason: exhausted, permanent, redelivery-refused or broker-unavailable).");

    /// <summary>Counts one dead letter on both the deprecated and the current counter, with the same tags.</summary>
    public static void CountDeadLetter(string queue, string consumer, string reason)
    {
        var tags = new TagList { { "queue", queue }, { "consumer", consumer }, { "reason", reason } };
        DeadLettered.Add(1, tags);
        Moved.Add(1, tags);
    }

    public static readonly Counter<long> Held = WorkersDiagnostics.Meter.CreateCounter<long>(
        HeldName, unit: "{message}", description: "Messages returned to their queue untouched because the broker did not take their redelivery or dead letter.");
}
