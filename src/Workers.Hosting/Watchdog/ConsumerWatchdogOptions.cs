namespace Workers.Hosting;

/// <summary>
/// The consumer watchdog (<c>Workers:ConsumerWatchdog</c>): it restarts a receive endpoint that MassTransit reports
/// ready while it consumes nothing — the broker lists no consumer on its queue, or messages wait in the queue while
/// the endpoint has none in flight and received none for <see cref="StallTimeout"/>. That is the known failure of
/// a consumer that never resumes after a broker restart. Endpoints paused by their circuit breaker are left alone.
/// </summary>
public sealed class ConsumerWatchdogOptions
{
    /// <summary>Default <see cref="Interval"/>: 10 seconds.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(10);

    /// <summary>Default <see cref="StallTimeout"/>: 30 seconds.</summary>
    public static readonly TimeSpan DefaultStallTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Watch the endpoints (off by default: in one CI run it restarted endpoints during a 3 s network cut, before
    /// MassTransit had noticed the cut, and a restart whose stop failed left them stopped; see the README).
    /// </summary>
    public bool Enabled { get; set; }

    /// <summary>How often each endpoint's queue is inspected on the broker. Between 1 s and 10 min.</summary>
    public TimeSpan Interval { get; set; } = DefaultInterval;

    /// <summary>
    /// How long a ready endpoint may receive nothing while the broker shows it stuck before it is restarted;
    /// two inspections in a row must agree. Between 1 s and 1 h.
    /// </summary>
    public TimeSpan StallTimeout { get; set; } = DefaultStallTimeout;
}
