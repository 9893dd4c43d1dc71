using Microsoft.Extensions.Logging;

namespace Workers.Resilience.Bulkhead;

/// <summary>Log events of the bulkheads (event ids 4120–4139).</summary>
internal static partial class BulkheadLog
{
    [LoggerMessage(EventId = 4120, Level = LogLevel.Information, Message = "Bulkhead of {Consumer}: limits changed from {OldPermitLimit}/{OldQueueLimit} to {PermitLimit}/{QueueLimit} (permits/queue).")]
    public static partial void LimitsChanged(ILogger logger, string consumer, int oldPermitLimit, int oldQueueLimit, int permitLimit, int queueLimit);

    [LoggerMessage(EventId = 4121, Level = LogLevel.Debug, Message = "Bulkhead of {Consumer} is full: message {MessageId} {Action}.")]
    public static partial void Overflow(ILogger logger, string consumer, Guid? messageId, string action);
}
