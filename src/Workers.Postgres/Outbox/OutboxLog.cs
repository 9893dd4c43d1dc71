using Microsoft.Extensions.Logging;

namespace Workers.Postgres.Outbox;

/// <summary>Outbox log events (5100–5199).</summary>
internal static partial class OutboxLog
{
    [LoggerMessage(5100, LogLevel.Information, "Outbox dispatcher {Owner} started for {Context}")]
    public static partial void Started(ILogger logger, string owner, string context);

    [LoggerMessage(5101, LogLevel.Debug, "Outbox dispatcher {Owner} claimed {Count} message(s)")]
    public static partial void Claimed(ILogger logger, string owner, int count);

    [LoggerMessage(5102, LogLevel.Debug, "Outbox dispatcher {Owner} dispatched {Count} message(s)")]
    public static partial void Dispatched(ILogger logger, string owner, int count);

    [LoggerMessage(5103, LogLevel.Warning, "Outbox message {MessageId} ({MessageType}) failed to publish on attempt {Attempt}; retry at {RetryAt}")]
    public static partial void PublishFailed(ILogger logger, Exception exception, Guid messageId, string messageType, int attempt, DateTimeOffset retryAt);

    [LoggerMessage(5104, LogLevel.Warning, "Outbox dispatcher {Owner}: database operation {Operation} failed; will retry")]
    public static partial void DatabaseFailed(ILogger logger, Exception exception, string owner, string operation);

    [LoggerMessage(5105, LogLevel.Warning, "Outbox LISTEN connection lost; reconnecting (polling continues meanwhile)")]
    public static partial void ListenerLost(ILogger logger, Exception exception);

    [LoggerMessage(5106, LogLevel.Information, "Outbox backlog: {Pending} pending, oldest {LagSeconds:F1} s")]
    public static partial void Backlog(ILogger logger, long pending, double lagSeconds);

    [LoggerMessage(5107, LogLevel.Information, "Outbox purged {Count} dispatched message(s) in {Batches} batch(es), {ElapsedMs:F0} ms")]
    public static partial void Purged(ILogger logger, long count, int batches, double elapsedMs);

    [LoggerMessage(5115, LogLevel.Debug, "Outbox purged {Count} idle ordering key(s) in {Batches} batch(es)")]
    public static partial void KeysPurged(ILogger logger, long count, int batches);

    [LoggerMessage(5150, LogLevel.Warning, "Outbox purge stopped at its bound of {Batches} full batch(es) ({Count} row(s)); dispatched rows remain until the next round in {Interval}: raise Workers:Outbox:MaxPurgeBatches or PurgeBatchSize if this repeats")]
    public static partial void PurgeCapped(ILogger logger, int batches, long count, TimeSpan interval);

    // 5108, 5109: the topology's verdicts, logged by Failover/TopologyLog.

    [LoggerMessage(5110, LogLevel.Information, "Outbox dispatcher {Owner} stopped")]
    public static partial void Stopped(ILogger logger, string owner);

    [LoggerMessage(5111, LogLevel.Error, "Outbox message {MessageId} has an unknown message type {MessageType}; retried with back-off")]
    public static partial void UnknownType(ILogger logger, Guid messageId, string messageType);

    [LoggerMessage(5112, LogLevel.Warning, "Outbox message {MessageId} ({MessageType}, {Destination}) was returned by the broker as unroutable (no queue bound) on attempt {Attempt}; kept pending, retry at {RetryAt}")]
    public static partial void Unroutable(ILogger logger, Guid messageId, string messageType, string destination, int attempt, DateTimeOffset retryAt);

    [LoggerMessage(5113, LogLevel.Error, "Outbox message {MessageId} ({MessageType}) quarantined after {Failures} failed dispatch(es); later messages of ordering key {OrderingKey} stay held until it is deleted or repaired (see the workers_outbox_quarantine view)")]
    public static partial void Quarantined(ILogger logger, Guid messageId, string messageType, int failures, string orderingKey);

    [LoggerMessage(5114, LogLevel.Critical, "Outbox dispatcher refuses to run: the bus has publisher confirms off ({Setting} = false); a publish would be marked dispatched without the broker's confirmation")]
    public static partial void ConfirmsRequired(ILogger logger, string setting);
}
