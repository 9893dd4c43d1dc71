using Microsoft.Extensions.Logging;

namespace Workers.Resilience.Redelivery;

/// <summary>Log events of the redelivery and dead-letter stages (event ids 3000–3099).</summary>
internal static partial class RedeliveryLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "Immediate retry {Retry} of message {MessageId} on queue {Queue} after {ExceptionType}")]
    public static partial void ImmediateRetry(ILogger logger, int retry, Guid? messageId, string queue, string exceptionType);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Redelivery {Redelivery} of message {MessageId} on queue {Queue} scheduled in {Delay} after {ExceptionType}")]
    public static partial void Scheduled(ILogger logger, int redelivery, Guid? messageId, string queue, TimeSpan delay, string exceptionType);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "Message {MessageId} on queue {Queue} dead-lettered to {ErrorQueue} ({Reason}, {Attempts} attempts) by consumer {Consumer}")]
    public static partial void DeadLettered(ILogger logger, Exception exception, Guid? messageId, string queue, string errorQueue, string reason, int attempts, string consumer);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Error, Message = "Dead-letter fallback failed for message {MessageId} on queue {Queue}; the message is dead-lettered anyway")]
    public static partial void FallbackFailed(ILogger logger, Exception exception, Guid? messageId, string queue);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Error, Message = "Could not move message {MessageId} on queue {Queue} through the broker (redelivery or dead letter); it returns to the queue untouched")]
    public static partial void TransportFailed(ILogger logger, Exception exception, Guid? messageId, string queue);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Warning, Message = "Message {MessageId} did not come from RabbitMQ; redelivery is not possible, MassTransit's error handling takes it")]
    public static partial void NotRabbitMq(ILogger logger, Guid? messageId);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Error, Message = "The broker refused the redelivery of message {MessageId} on queue {Queue} (not an outage); it is dead-lettered instead")]
    public static partial void RedeliveryRefused(ILogger logger, Exception exception, Guid? messageId, string queue);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Error, Message = "Message {MessageId} on queue {Queue} was held {Holds} times because the broker did not take its redelivery; it is dead-lettered now")]
    public static partial void HoldLimitReached(ILogger logger, Guid? messageId, string queue, int holds);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Critical, Message = "The broker refused the {Stage} of message {MessageId} on queue {Queue} (hold {Holds}); it returns to the queue untouched and needs attention")]
    public static partial void HeldAfterRefusal(ILogger logger, Exception exception, Guid? messageId, string queue, string stage, int holds);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "Broker {Product} {Version} meets the requirements; delay ladder of {Levels} levels ready")]
    public static partial void BrokerVerified(ILogger logger, string product, string version, int levels);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Debug, Message = "Message {MessageId} on queue {Queue} deferred through the delay ladder for {Delay} (redelivery count stays {Redeliveries}): {Reason}")]
    public static partial void Deferred(ILogger logger, Guid? messageId, string queue, TimeSpan delay, int redeliveries, string reason);
}
