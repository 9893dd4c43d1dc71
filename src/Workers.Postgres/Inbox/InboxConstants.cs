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
}
