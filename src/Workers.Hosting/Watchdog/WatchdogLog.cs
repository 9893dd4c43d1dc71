using Microsoft.Extensions.Logging;

namespace Workers.Hosting;

/// <summary>Log events of the consumer watchdog (event ids 6001–6009).</summary>
internal static partial class WatchdogLog
{
    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "Endpoint {Queue} is stuck ({Reason}): restarting it.")]
    public static partial void Restarting(ILogger logger, string queue, string reason);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Information, Message = "Endpoint {Queue} restarted by the watchdog and ready.")]
    public static partial void Restarted(ILogger logger, string queue);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Error, Message = "Endpoint {Queue}: the watchdog could not restart it; it tries again at its next inspection.")]
    public static partial void RestartFailed(ILogger logger, Exception exception, string queue);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Debug, Message = "Endpoint {Queue}: the watchdog could not inspect its queue on the broker.")]
    public static partial void InspectFailed(ILogger logger, Exception exception, string queue);
}
