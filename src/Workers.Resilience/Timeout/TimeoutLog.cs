using Microsoft.Extensions.Logging;

namespace Workers.Resilience.Timeout;

/// <summary>Log events of the consumer timeouts (event ids 4140–4159).</summary>
internal static partial class TimeoutLog
{
    [LoggerMessage(EventId = 4140, Level = LogLevel.Warning, Message = "Consumer {Consumer} timed out after {Timeout} on message {MessageId}: cancelled, the attempt fails as transient.")]
    public static partial void TimedOut(ILogger logger, string consumer, TimeSpan timeout, Guid? messageId);

    [LoggerMessage(EventId = 4141, Level = LogLevel.Error, Message = "Consumer {Consumer} ignores cancellation: still running {GracePeriod} after its timeout on message {MessageId}. The message goes to redelivery; the consumer keeps its bulkhead permit until it returns.")]
    public static partial void IgnoredCancellation(ILogger logger, string consumer, TimeSpan gracePeriod, Guid? messageId);
}
