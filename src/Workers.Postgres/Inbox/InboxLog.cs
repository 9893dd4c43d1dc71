using Microsoft.Extensions.Logging;

namespace Workers.Postgres.Inbox;

/// <summary>Inbox log events (5200–5299).</summary>
internal static partial class InboxLog
{
    [LoggerMessage(5200, LogLevel.Information, "Duplicate message {MessageId} for {Consumer} absorbed by the inbox")]
    public static partial void Duplicate(ILogger logger, Guid messageId, string consumer);

    [LoggerMessage(5201, LogLevel.Information, "Inbox cleanup deleted {Count} expired row(s)")]
    public static partial void Cleaned(ILogger logger, int count);

    [LoggerMessage(5202, LogLevel.Warning, "Inbox cleanup failed; will retry")]
    public static partial void CleanupFailed(ILogger logger, Exception exception);
}
