using Microsoft.Extensions.Logging;

namespace Workers.Hosting;

/// <summary>Log events of the broker preflight in Hosting (event ids 6101–6109).</summary>
internal static partial class BrokerLog
{
    [LoggerMessage(EventId = 6101, Level = LogLevel.Information, Message = "Delivery limits of {Count} quorum queues verified at {Broker} (RabbitMQ {Version}, {Policies} policies): none below what Workers needs.")]
    public static partial void DeliveryLimitsVerified(ILogger logger, int count, string broker, string version, int policies);

    [LoggerMessage(EventId = 6102, Level = LogLevel.Warning, Message = "Delivery limits of {Count} quorum queues at {Broker} not verified: {Reason}. A policy with a low delivery-limit makes RabbitMQ drop messages Workers returns on purpose; set Workers:RabbitMq:ManagementUri (a user that may read the vhost's policies) to check them at start.")]
    public static partial void DeliveryLimitsNotVerified(ILogger logger, int count, string broker, string reason);

    [LoggerMessage(EventId = 6103, Level = LogLevel.Critical, Message = "Refusing to start: {Count} quorum queues at {Broker} have a delivery limit below what Workers needs. {Details}")]
    public static partial void DeliveryLimitsRefused(ILogger logger, int count, string broker, string details);

    [LoggerMessage(EventId = 6104, Level = LogLevel.Warning, Message = "Policy {Policy} at {Broker}: its pattern is not a .NET regular expression; its delivery-limit is counted as if it matched every queue.")]
    public static partial void PolicyPatternUnreadable(ILogger logger, string policy, string broker);

    [LoggerMessage(EventId = 6105, Level = LogLevel.Warning, Message = "Operator policies at {Broker} could not be read ({Reason}): only the vhost's policies were checked for a delivery limit.")]
    public static partial void OperatorPoliciesNotRead(ILogger logger, string broker, string reason);

    [LoggerMessage(EventId = 6106, Level = LogLevel.Debug, Message = "Dead-letter queues of {Count} endpoints at {Broker} declared as MassTransit moves messages to them.")]
    public static partial void DeadLetterQueuesVerified(ILogger logger, int count, string broker);

    [LoggerMessage(EventId = 6107, Level = LogLevel.Critical, Message = "Refusing to start: {Count} dead-letter queues at {Broker} exist with other arguments than their endpoints need. {Details}")]
    public static partial void DeadLetterQueuesRefused(ILogger logger, int count, string broker, string details);
}
