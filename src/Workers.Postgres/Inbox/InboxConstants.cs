namespace Workers.Postgres.Inbox;

/// <summary>Defaults of the inbox.</summary>
internal static class InboxConstants
{
    public const string SectionPath = "Workers:Inbox";
    public static readonly TimeSpan DefaultRetention = TimeSpan.FromDays(7);
    public static readonly TimeSpan DefaultCleanupInterval = TimeSpan.FromMinutes(1);
    public const int DefaultCleanupBatchSize = 1000;
    public const int MaxCleanupBatchSize = 100_000;
    public const int DefaultMaxCleanupBatches = 200;
    public const int MaxMaxCleanupBatches = 100_000;

    /// <summary>Counter of messages held in the broker because the inbox database was unavailable.</summary>
    public const string HeldInstrument = "workers.inbox.held";

    /// <summary>Activity event: a message held because the inbox database was unavailable.</summary>
    public const string HeldEvent = "workers.inbox.held";

    /// <summary>Activity event: the inbox database answers again after an outage.</summary>
    public const string DatabaseAvailableEvent = "workers.inbox.database_available";

    /// <summary>Health check reporting the inbox database's availability (readiness).</summary>
    public const string HealthCheckName = "workers-inbox-database";
}
