namespace Workers.Resilience.CircuitBreaker;

/// <summary>
/// Successes and failures over the last <c>duration</c>, kept in a ring of fixed buckets (pure, not thread-safe).
/// An outcome is forgotten between <c>duration - duration/buckets</c> and <c>duration</c> after it happened.
/// </summary>
internal sealed class SlidingWindow
{
    private readonly long bucketTicks;
    private readonly long[] stamps;
    private readonly int[] successes;
    private readonly int[] failures;

    public SlidingWindow(TimeSpan duration, int buckets = CircuitBreakerConstants.WindowBuckets)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(buckets, 1);
        bucketTicks = Math.Max(1, duration.Ticks / buckets);
        stamps = new long[buckets];
        successes = new int[buckets];
        failures = new int[buckets];
        Array.Fill(stamps, long.MinValue);
    }

    public void RecordSuccess(DateTimeOffset now) => successes[Slot(now)]++;

    public void RecordFailure(DateTimeOffset now) => failures[Slot(now)]++;

    public (int Successes, int Failures) Totals(DateTimeOffset now)
    {
        var current = now.UtcTicks / bucketTicks;
        int s = 0, f = 0;
        for (var i = 0; i < stamps.Length; i++)
        {
            if (stamps[i] > current - stamps.Length && stamps[i] <= current)
            {
                s += successes[i];
                f += failures[i];
            }
        }

        return (s, f);
    }

    public void Reset()
    {
        Array.Fill(stamps, long.MinValue);
        Array.Clear(successes);
        Array.Clear(failures);
    }

    private int Slot(DateTimeOffset now)
    {
        var index = now.UtcTicks / bucketTicks;
        var slot = (int)(index % stamps.Length);
        if (stamps[slot] != index)
        {
            stamps[slot] = index;
            successes[slot] = 0;
            failures[slot] = 0;
        }

        return slot;
    }
}
