namespace Workers.Resilience.CircuitBreaker;

/// <summary>
/// The ids of messages that failed recently, so that a message failing again (an immediate retry, a message returned
/// untouched while the circuit was open, a probe that comes round again) is recognised as the same message and not
/// counted as fresh evidence of an outage. Bounded in size and in time; pure (time is passed in), not thread-safe.
/// </summary>
internal sealed class FailureMemory
{
    private readonly Dictionary<string, DateTimeOffset> lastFailure = new(StringComparer.Ordinal);
    private readonly Queue<(string Id, DateTimeOffset At)> order = new();
    private readonly int capacity;
    private readonly TimeSpan retention;

    public FailureMemory(int capacity, TimeSpan retention)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(retention, TimeSpan.Zero);
        this.capacity = capacity;
        this.retention = retention;
    }

    public int Count => lastFailure.Count;

    /// <summary>Whether <paramref name="id"/> failed within the retention before <paramref name="now"/>.</summary>
    public bool Contains(string? id, DateTimeOffset now) =>
        id is not null && lastFailure.TryGetValue(id, out var at) && now - at < retention;

    /// <summary>Remembers that <paramref name="id"/> failed at <paramref name="now"/>; forgets the oldest beyond the bounds.</summary>
    public void Remember(string? id, DateTimeOffset now)
    {
        if (id is null)
        {
            return;
        }

        lastFailure[id] = now;
        order.Enqueue((id, now));
        while (order.Count > 0 && (lastFailure.Count > capacity || now - order.Peek().At >= retention || order.Count > 2 * capacity))
        {
            var (oldest, at) = order.Dequeue();

            // A later failure of the same id re-queued it; only its latest entry forgets it.
            if (lastFailure.TryGetValue(oldest, out var latest) && latest == at)
            {
                lastFailure.Remove(oldest);
            }
        }
    }
}
