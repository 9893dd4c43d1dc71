using Microsoft.Extensions.Logging;

namespace Workers.Hosting;

/// <summary>
/// The logger factory MassTransit logs through (bound by <see cref="BusLogContextBinder"/>): the app's own, except that
/// MassTransit's per-attempt consume fault (<c>R-FAULT {InputAddress} {MessageId} {MessageType} {ConsumerType}</c>,
/// at error level with the exception's stack, on every attempt) is written at
/// <see cref="TelemetryOptions.MassTransitFaultLogLevel"/> instead. On Workers' endpoints every failed attempt reaches
/// the redelivery stage, which logs the outcome itself, once and at its level: a redelivery scheduled (event 3002,
/// warning) or the message dead-lettered (3003, error, with the exception). Every other entry, of every category,
/// passes through untouched; the app's own loggers are not wrapped at all.
/// </summary>
internal sealed class MassTransitLoggerFactory : ILoggerFactory
{
    /// <summary>The start of the template of MassTransit's consume fault (its receive-level fault, a message that
    /// never reached a consumer, has no message or consumer type and is left as it is).</summary>
    internal const string ConsumeFaultTemplate = "R-FAULT {InputAddress} {MessageId} {MessageType} {ConsumerType}";

    private const string OriginalFormat = "{OriginalFormat}";
    private const string MassTransitCategory = "MassTransit";

    private readonly ILoggerFactory inner;
    private readonly Func<LogLevel> faultLevel;

    /// <param name="inner">The app's logger factory (not owned: the host disposes it).</param>
    /// <param name="faultLevel">Read at each fault, after the options were validated at start.</param>
    public MassTransitLoggerFactory(ILoggerFactory inner, Func<LogLevel> faultLevel)
    {
        this.inner = inner;
        this.faultLevel = faultLevel;
    }

    public ILogger CreateLogger(string categoryName)
    {
        var logger = inner.CreateLogger(categoryName);
        return categoryName.StartsWith(MassTransitCategory, StringComparison.Ordinal) ? new FaultDemotingLogger(logger, faultLevel) : logger;
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose()
    {
    }

    /// <summary>Whether an entry's state is MassTransit's consume fault (by its message template).</summary>
    internal static bool IsConsumeFault<TState>(TState state)
    {
        if (state is not IReadOnlyList<KeyValuePair<string, object?>> values)
        {
            return false;
        }

        for (var i = values.Count - 1; i >= 0; i--)
        {
            var (key, value) = values[i];
            if (key == OriginalFormat)
            {
                return value is string template && template.StartsWith(ConsumeFaultTemplate, StringComparison.Ordinal);
            }
        }

        return false;
    }

    private sealed class FaultDemotingLogger(ILogger inner, Func<LogLevel> faultLevel) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        // MassTransit asks before it formats: an error must be let through when its demoted level is enabled.
        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel) || (logLevel == LogLevel.Error && inner.IsEnabled(faultLevel()));

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Error && IsConsumeFault(state))
            {
                logLevel = faultLevel();
            }

            if (logLevel != LogLevel.None)
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
