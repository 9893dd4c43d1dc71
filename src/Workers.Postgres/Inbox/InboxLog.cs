using Microsoft.Extensions.Logging;

namespace Workers.Postgres.Inbox;

/// <summary>Inbox log events (5200–5299).</summary>
internal static partial class InboxLog
{
    [LoggerMessage(5200, LogLevel.Information, "Duplicate message {MessageId} for {Consumer} absorbed by the inbox")]
    public static partial void Duplicate(ILogger logger, Guid messageId, string consumer);

    [LoggerMessage(5201, LogLevel.Information, "Inbox cleanup deleted {Count} expired row(s) in {Batches} batch(es), {ElapsedMs:F0} ms")]
    public static partial void Cleaned(ILogger logger, long count, int batches, double elapsedMs);

    [LoggerMessage(5202, LogLevel.Warning, "Inbox cleanup failed; will retry")]
    public static partial void CleanupFailed(ILogger logger, Exception exception);

    [LoggerMessage(5203, LogLevel.Warning, "Message {MessageId} for {Consumer} held in the broker for {PauseSeconds} s: the inbox database is unavailable ({ExceptionType}); not counted as an attempt")]
    public static partial void Held(ILogger logger, Guid messageId, string consumer, double pauseSeconds, string exceptionType);

    [LoggerMessage(5204, LogLevel.Error, "The inbox database is unavailable (first seen by {Consumer}): messages are held in the broker until it answers")]
    public static partial void DatabaseUnavailable(ILogger logger, Exception exception, string consumer);

    [LoggerMessage(5205, LogLevel.Information, "The inbox database answers again after {OutageSeconds:F1} s: held messages flow")]
    public static partial void DatabaseAvailable(ILogger logger, double outageSeconds);

    [LoggerMessage(5210, LogLevel.Warning, "Inbox cleanup stopped at its bound of {Batches} full batch(es) ({Count} row(s)); expired rows remain until the next round in {Interval}: raise Workers:Inbox:MaxCleanupBatches or CleanupBatchSize if this repeats")]
    public static partial void CleanupCapped(ILogger logger, int batches, long count, TimeSpan interval);
}
