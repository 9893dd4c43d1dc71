namespace Workers.Resilience;

/// <summary>
/// The message headers of the framework's wire contract: redelivery, dead-letter and replay.
/// Where MassTransit has a header for the same fact (<c>MT-*</c>), the framework writes MassTransit's too,
/// so that MassTransit's tools and ours read the same messages.
/// </summary>
public static class WorkersHeaders
{
    /// <summary>MassTransit's redelivery counter: how many times the message was redelivered (0 or absent on the first delivery).</summary>
    public const string RedeliveryCount = "MT-Redelivery-Count";

    /// <summary>MassTransit's reason for a message in an error or skipped queue (<c>fault</c>, <c>skip</c>).</summary>
    public const string Reason = "MT-Reason";

    /// <summary>MassTransit's fault header: the exception's full type name.</summary>
    public const string FaultExceptionType = "MT-Fault-ExceptionType";

    /// <summary>MassTransit's fault header: the exception's message.</summary>
    public const string FaultMessage = "MT-Fault-Message";

    /// <summary>MassTransit's fault header: the exception's stack trace.</summary>
    public const string FaultStackTrace = "MT-Fault-StackTrace";

    /// <summary>MassTransit's fault header: when the fault happened (ISO 8601, UTC).</summary>
    public const string FaultTimestamp = "MT-Fault-Timestamp";

    /// <summary>MassTransit's fault header: the consumer type that failed.</summary>
    public const string FaultConsumerType = "MT-Fault-ConsumerType";

    /// <summary>MassTransit's fault header: the message type that failed.</summary>
    public const string FaultMessageType = "MT-Fault-MessageType";

    /// <summary>MassTransit's fault header: the input address of the endpoint where the message failed.</summary>
    public const string FaultInputAddress = "MT-Fault-InputAddress";

    /// <summary>MassTransit's host header: the machine that dead-lettered the message.</summary>
    public const string HostMachineName = "MT-Host-MachineName";

    /// <summary>Number of attempts made in all (first delivery + immediate retries + redeliveries).</summary>
    public const string FaultAttempts = "Workers-Fault-Attempts";

    /// <summary>Name of the queue the message was consumed from (the replay target by default).</summary>
    public const string FaultQueue = "Workers-Fault-Queue";

    /// <summary>When the first attempt failed (ISO 8601, UTC).</summary>
    public const string FaultFirstFailure = "Workers-Fault-FirstFailure";

    /// <summary>When the last attempt failed (ISO 8601, UTC).</summary>
    public const string FaultLastFailure = "Workers-Fault-LastFailure";

    /// <summary>The host (machine/process) that dead-lettered the message.</summary>
    public const string FaultHost = "Workers-Fault-Host";

    /// <summary>
    /// The version of the application that dead-lettered the message (the entry assembly's informational version):
    /// the failure store's "new since version X" reads it (MassTransit's <c>MT-Host-AssemblyVersion</c> when absent).
    /// </summary>
    public const string FaultHostVersion = "Workers-Fault-HostVersion";

    /// <summary>MassTransit's host header: the version of the application's entry assembly.</summary>
    public const string HostAssemblyVersion = "MT-Host-AssemblyVersion";

    /// <summary>The consumer that failed (type name).</summary>
    public const string FaultConsumer = "Workers-Fault-Consumer";

    /// <summary>Why the message was dead-lettered: <c>exhausted</c> (redelivery attempts used up) or <c>permanent</c> (classified as permanent).</summary>
    public const string FaultDisposition = "Workers-Fault-Disposition";

    /// <summary>When the message first failed, carried through redeliveries (ISO 8601, UTC).</summary>
    public const string FirstFailure = "Workers-First-Failure";

    /// <summary>Routing header of the delay topology: the queue a delayed message returns to.</summary>
    public const string Destination = "Workers-Destination";

    /// <summary>Set by a replay: the replay run's id, so that a re-run is visible.</summary>
    public const string ReplayId = "Workers-Replay-Id";

    /// <summary>Set by a replay: when the message was replayed (ISO 8601, UTC).</summary>
    public const string ReplayedAt = "Workers-Replayed-At";

    /// <summary>Prefixes of the headers a replay strips (fault details and redelivery state).</summary>
    public static readonly IReadOnlyList<string> FaultHeaderPrefixes = ["MT-Fault-", "MT-Reason", "MT-Host-", "Workers-Fault-", RedeliveryCount, FirstFailure];
}
