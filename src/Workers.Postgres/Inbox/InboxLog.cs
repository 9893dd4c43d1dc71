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

    [LoggerMessage(5210, LogLevel.Warning, "Inbox cleanup stopped at its bound of {Batches} full batch(es) ({Count} row(s)); expired rows remain until the next round in {Interval}: raise Workers:Inbox:MaxCleanupBatches or CleanupBatchSize if this repeats")]
    public static partial void CleanupCapped(ILogger logger, int batches, long count, TimeSpan interval);
}
