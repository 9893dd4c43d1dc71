namespace Workers.Postgres.Storage;

/// <summary>
/// Whether the framework's own statements on a DbContext's database (the inbox's transaction, its commit) are
/// succeeding: set unavailable by the first failure of a run, available again by the next success. While it is
/// unavailable the inbox holds messages in the broker and readiness says so. Thread-safe; time comes from the caller.
/// </summary>
internal sealed class DatabaseAvailability
{
    private readonly object gate = new();
    private DateTimeOffset? unavailableSince;
    private int consecutiveFailures;
    private long held;
    private string? lastError;

    /// <summary>The state now.</summary>
    public DatabaseAvailabilitySnapshot Snapshot
    {
        get
        {
            lock (gate)
            {
                return new DatabaseAvailabilitySnapshot(unavailableSince, consecutiveFailures, held, lastError);
            }
        }
    }

    /// <summary>Records a failure that holds a message; returns the failures in a row and whether it is the first.</summary>
    public (int ConsecutiveFailures, bool BecameUnavailable) RecordHold(DateTimeOffset now, Exception failure)
    {
        lock (gate)
        {
            var first = unavailableSince is null;
            unavailableSince ??= now;
            consecutiveFailures++;
            held++;
            lastError = failure.GetType().Name + ": " + failure.Message;
            return (consecutiveFailures, first);
        }
    }

    /// <summary>Records a success; returns how long the database was unavailable, when it was.</summary>
    public TimeSpan? RecordSuccess(DateTimeOffset now)
    {
        lock (gate)
        {
            if (unavailableSince is not { } since)
            {
                return null;
            }

            unavailableSince = null;
            consecutiveFailures = 0;
            lastError = null;
            return now - since;
        }
    }

    /// <summary>
    /// How long a held message waits before it goes back to its queue: 1 s doubling per failure in a row, at most
    /// <see cref="MaxHoldPause"/> (pure; a hold must neither spin nor keep a message away for long once it is back).
    /// </summary>
    public static TimeSpan HoldPause(int consecutiveFailures) =>
        consecutiveFailures <= 1 ? MinHoldPause
        : TimeSpan.FromTicks(Math.Min(MaxHoldPause.Ticks, MinHoldPause.Ticks << Math.Min(consecutiveFailures - 1, 16)));

    /// <summary>The first pause.</summary>
    public static readonly TimeSpan MinHoldPause = TimeSpan.FromSeconds(1);

    /// <summary>The longest pause.</summary>
    public static readonly TimeSpan MaxHoldPause = TimeSpan.FromSeconds(10);
}

/// <summary>What <see cref="DatabaseAvailability"/> knows: since when the database is unavailable (null: available).</summary>
internal readonly record struct DatabaseAvailabilitySnapshot(DateTimeOffset? UnavailableSince, int ConsecutiveFailures, long Held, string? LastError);
