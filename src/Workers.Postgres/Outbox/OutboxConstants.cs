namespace Workers.Postgres.Outbox;

/// <summary>Defaults and names of the outbox.</summary>
internal static class OutboxConstants
{
    public const string SectionPath = "Workers:Outbox";

    /// <summary>The dispatcher's span around one publish, a child of the staging activity.</summary>
    public const string DispatchActivity = "workers.outbox.publish";
    public const string PublisherConfirmationSetting = "Workers:RabbitMq:PublisherConfirmation";
    public const int DefaultBatchSize = 100;
    public const int DefaultMaxDispatchAttempts = 10;
    public static readonly TimeSpan DefaultPollingInterval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan DefaultLeaseDuration = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan DefaultPublishTimeout = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan DefaultRetryDelay = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan DefaultMaxRetryDelay = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan DefaultDispatchedRetention = TimeSpan.FromHours(1);
    public const int DefaultPurgeBatchSize = 1000;
    public const int MaxPurgeBatchSize = 100_000;
    public const int DefaultMaxPurgeBatches = 50;
    public const int MaxMaxPurgeBatches = 100_000;
    public static readonly TimeSpan DefaultMaintenanceInterval = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan DefaultLagDegradedThreshold = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan DefaultTopologyCheckInterval = TimeSpan.FromSeconds(5);
    public const int DefaultMaxDatabaseRetryCount = 6;
    public static readonly TimeSpan DefaultMaxDatabaseRetryDelay = TimeSpan.FromSeconds(5);
    public const string HealthCheckName = "workers-outbox";
    public const int MaxErrorLength = 2000;
}
