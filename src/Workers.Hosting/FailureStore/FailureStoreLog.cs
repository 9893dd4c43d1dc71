using Microsoft.Extensions.Logging;

namespace Workers.Hosting;

/// <summary>Failure-store ingester log events (6300–6399).</summary>
internal static partial class FailureStoreLog
{
    [LoggerMessage(EventId = 6301, Level = LogLevel.Information, Message = "Failure store: ingesting {Queue} into {Table}.")]
    public static partial void Ingesting(ILogger logger, string queue, string table);

    [LoggerMessage(EventId = 6302, Level = LogLevel.Debug, Message = "Failure store: {Inserted} dead letter(s) from {Queue} committed, {Duplicates} already stored; acknowledged.")]
    public static partial void BatchIngested(ILogger logger, string queue, int inserted, int duplicates);

    [LoggerMessage(EventId = 6303, Level = LogLevel.Warning, Message = "Failure store: ingesting {Queue} failed ({ExceptionType}); its unacknowledged dead letters return to the queue, trying again in {RetryDelay}.")]
    public static partial void IngestFailed(ILogger logger, Exception exception, string queue, string exceptionType, TimeSpan retryDelay);

    [LoggerMessage(EventId = 6304, Level = LogLevel.Information, Message = "Failure store: ingesting {Queue} again after {Failures} failed attempt(s).")]
    public static partial void IngestRecovered(ILogger logger, string queue, int failures);

    [LoggerMessage(EventId = 6305, Level = LogLevel.Error, Message = "Failure store: table {Table} does not exist (run 'workers migrate'); the dead letters stay in their queues, checking again in {RetryDelay}.")]
    public static partial void StoreMissing(ILogger logger, string table, TimeSpan retryDelay);
}
