using Microsoft.Extensions.Logging;

namespace Workers.Resilience.CircuitBreaker;

/// <summary>Log events of the circuit breakers (event ids 4100–4119).</summary>
internal static partial class CircuitBreakerLog
{
    [LoggerMessage(EventId = 4100, Level = LogLevel.Warning, Message = "Circuit {Circuit} opened for {BreakDuration} (break #{Breaks}) after {Failures} failures of {Total} messages: endpoints paused. Last failure: {Failure}")]
    public static partial void Opened(ILogger logger, string circuit, TimeSpan breakDuration, int breaks, int failures, int total, string? failure);

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Circuit {Circuit} half-open: endpoints resumed for probe messages.")]
    public static partial void HalfOpened(ILogger logger, string circuit);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "Circuit {Circuit} closed: endpoints consume at full concurrency.")]
    public static partial void Closed(ILogger logger, string circuit);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Debug, Message = "Circuit {Circuit}: {Action} endpoint {Endpoint}.")]
    public static partial void EndpointAction(ILogger logger, string circuit, string action, Uri endpoint);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Error, Message = "Circuit {Circuit}: could not {Action} endpoint {Endpoint}.")]
    public static partial void EndpointActionFailed(ILogger logger, Exception exception, string circuit, string action, Uri endpoint);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Warning, Message = "Circuit {Circuit}: endpoints not in the wanted state after {Failures} attempt(s); trying again in {Delay}.")]
    public static partial void EndpointRetry(ILogger logger, string circuit, TimeSpan delay, int failures);

    [LoggerMessage(EventId = 4106, Level = LogLevel.Information, Message = "Circuit {Circuit}: probe message {MessageId} failed again ({Exception}), which says more about the message than the dependency: deferred for {Delay} without counting an attempt ({Deferred} of {Limit} in this half-open period); the next message probes.")]
    public static partial void ProbeDeferred(ILogger logger, string circuit, string? messageId, int deferred, int limit, TimeSpan delay, string exception);
}
