using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Workers.Resilience.Telemetry;

namespace Workers.Resilience.Timeout;

/// <summary>The timeout settings and counters of one consumer.</summary>
internal sealed class ConsumerTimeout
{
    private static readonly ConcurrentDictionary<ConsumerTimeout, byte> Live = new();
    private static readonly Counter<long> TimedOutCounter = WorkersDiagnostics.Meter.CreateCounter<long>(
        "workers.timeout.count", unit: "{attempt}", description: "Consumer attempts that ran past their timeout.");

    private static readonly Counter<long> IgnoredCounter = WorkersDiagnostics.Meter.CreateCounter<long>(
        "workers.timeout.ignored_cancellation", unit: "{attempt}", description: "Timed-out consumers that had not returned within the grace period after cancellation.");

    private long timedOut;
    private long ignored;
    private int stillRunning;

    static ConsumerTimeout()
    {
        WorkersDiagnostics.Meter.CreateObservableGauge(
            "workers.timeout.still_running",
            () => Live.Keys.Select(t => new Measurement<int>(Volatile.Read(ref t.stillRunning), new KeyValuePair<string, object?>("consumer", t.Consumer))),
            unit: "{attempt}",
            description: "Timed-out consumers that ignored cancellation and are still running.");
    }

    public ConsumerTimeout(string consumer, TimeoutOptions options)
    {
        Consumer = consumer;
        Timeout = options.Timeout;
        GracePeriod = options.CancellationGracePeriod;
        Live.TryAdd(this, 0);
    }

    public string Consumer { get; }

    public TimeSpan Timeout { get; }

    public TimeSpan GracePeriod { get; }

    public ConsumerTimeoutSnapshot Snapshot() =>
        new(Consumer, Timeout, Interlocked.Read(ref timedOut), Interlocked.Read(ref ignored), Volatile.Read(ref stillRunning));

    public void OnTimedOut()
    {
        Interlocked.Increment(ref timedOut);
        TimedOutCounter.Add(1, new KeyValuePair<string, object?>("consumer", Consumer));
        WorkersDiagnostics.AddEvent("workers.timeout", new KeyValuePair<string, object?>("consumer", Consumer));
    }

    /// <summary>A consumer ignored its cancellation: counted until <paramref name="running"/> completes.</summary>
    public void OnIgnoredCancellation(Task running)
    {
        Interlocked.Increment(ref ignored);
        Interlocked.Increment(ref stillRunning);
        IgnoredCounter.Add(1, new KeyValuePair<string, object?>("consumer", Consumer));
        WorkersDiagnostics.AddEvent("workers.timeout.ignored_cancellation", new KeyValuePair<string, object?>("consumer", Consumer));
        running.ContinueWith(static (task, state) =>
        {
            _ = task.Exception; // observed: the runaway's late failure must not surface as an unobserved exception
            Interlocked.Decrement(ref ((ConsumerTimeout)state!).stillRunning);
        }, this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    public void Untrack() => Live.TryRemove(this, out _);
}
