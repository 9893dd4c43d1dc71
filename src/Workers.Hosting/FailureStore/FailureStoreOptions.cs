namespace Workers.Hosting;

/// <summary>
/// The failure store (<c>Workers:FailureStore</c>): when enabled, the worker ingests each endpoint's
/// <c>&lt;queue&gt;_error</c> and <c>&lt;queue&gt;_skipped</c> into PostgreSQL (<c>workers_failures</c>, created by
/// <c>workers migrate</c>, in the database of <c>Workers:Postgres:ConnectionString</c>), each batch committed before the
/// broker ack and idempotent on re-ingest. Off by default: the dead letters then stay in their queues, as before.
/// </summary>
public sealed class FailureStoreOptions
{
    /// <summary>Default <see cref="BatchSize"/>: 500 dead letters per transaction.</summary>
    public const int DefaultBatchSize = 500;

    /// <summary>Largest <see cref="BatchSize"/>: 10,000.</summary>
    public const int MaxBatchSize = 10_000;

    /// <summary>Default <see cref="RetryDelay"/>: 5 seconds.</summary>
    public static readonly TimeSpan DefaultRetryDelay = TimeSpan.FromSeconds(5);

    /// <summary>Ingest the dead-letter queues into the store (off by default).</summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// Dead letters held unacknowledged and inserted in one transaction (1 to 10,000; also the consumer's prefetch).
    /// A batch is whatever has arrived, up to this many: no waiting for a batch to fill.
    /// </summary>
    public int BatchSize { get; set; } = DefaultBatchSize;

    /// <summary>How long to wait before trying again when the database or the broker fails (1 s to 10 min); the batch stays in the queue meanwhile.</summary>
    public TimeSpan RetryDelay { get; set; } = DefaultRetryDelay;

    /// <summary>The database schema of the store's tables (null: <c>public</c>, where <c>workers migrate</c> creates them).</summary>
    public string? Schema { get; set; }
}
