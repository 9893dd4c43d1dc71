using Microsoft.Extensions.Logging;

namespace Workers.Postgres.Failover;

/// <summary>Log events of the topology monitor (ids kept from when the outbox dispatcher ran the check: 5108, 5109).</summary>
internal static partial class TopologyLog
{
    /// <summary>The activity event of a topology change.</summary>
    public const string ChangedEvent = "workers.postgres.topology";

    [LoggerMessage(5108, LogLevel.Error, "PostgreSQL topology is {State}: writes refused until exactly one host is primary")]
    public static partial void SplitBrain(ILogger logger, string state);

    [LoggerMessage(5109, LogLevel.Information, "PostgreSQL topology changed to {State}")]
    public static partial void TopologyChanged(ILogger logger, string state);

    [LoggerMessage(5120, LogLevel.Warning, "PostgreSQL topology check of {Context} failed; the last verdict stands")]
    public static partial void CheckFailed(ILogger logger, Exception exception, string context);
}
