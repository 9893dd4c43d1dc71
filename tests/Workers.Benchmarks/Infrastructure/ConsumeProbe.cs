using System.Diagnostics;
using HdrHistogram;

namespace Workers.Benchmarks.Infrastructure;

/// <summary>
/// What every contender's consumer calls for each delivery: counts successes, times the first and last one,
/// records end-to-end latency when asked, and fails the first attempt of flagged messages.
/// Thread-safe; one probe per measurement.
/// </summary>
internal sealed class ConsumeProbe
{
    private readonly long target;
    private readonly int[] failedOnce;
    private readonly long latencySkip;
    private readonly LongHistogram? latency;
    private readonly long[]? consumedAt;
    private readonly Lock latencyLock = new();
    private readonly TaskCompletionSource completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long count;
    private long firstTimestamp;
    private long lastTimestamp;
    private long failures;
    private TimeSpan firstCpu;
    private TimeSpan lastCpu;

    public ConsumeProbe(long target, bool recordLatency = false, long latencySkip = 0, bool recordConsumeTimes = false)
    {
        this.target = target;
        this.latencySkip = latencySkip;
        failedOnce = new int[target];
        consumedAt = recordConsumeTimes ? new long[target] : null;
        if (recordLatency)
        {
            // 1 µs .. 60 s, 3 significant digits.
            latency = new LongHistogram(60_000_000, 3);
        }
    }

    public long Count => Interlocked.Read(ref count);

    public long Failures => Interlocked.Read(ref failures);

    public Task Completed => completed.Task;

    /// <summary>Time from the first to the last successful consume.</summary>
    public TimeSpan FirstToLast => Stopwatch.GetElapsedTime(Interlocked.Read(ref firstTimestamp), Interlocked.Read(ref lastTimestamp));

    /// <summary>Timestamp of the last successful consume.</summary>
    public long LastTimestamp => Interlocked.Read(ref lastTimestamp);

    public LongHistogram? Latency => latency;

    /// <summary>
    /// With <c>recordConsumeTimes</c>: the <see cref="Stopwatch"/> timestamp of message <paramref name="id"/>'s first
    /// successful consume (0 when not consumed), for latencies whose start is only known outside the message
    /// (e.g. when its transaction committed).
    /// </summary>
    public long ConsumedAt(long id) => consumedAt is null ? throw new InvalidOperationException("Consume times are not recorded.") : Interlocked.Read(ref consumedAt[id]);

    /// <summary>
    /// CPU time of this whole process between the first and the last consume, per message: what the client side
    /// spends per message (framework + client library + GC), independent of how long it waits for the broker.
    /// Meaningful when nothing else runs in the process (the drain workload).
    /// </summary>
    public double CpuMicrosecondsPerMessage => target <= 1 ? 0 : (lastCpu - firstCpu).TotalMicroseconds / (target - 1);

    /// <summary>Handles one delivery; throws <see cref="BenchFailureException"/> on a flagged message's first attempt.</summary>
    public void Consume(BenchMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.FailOnce && message.Id >= 0 && message.Id < failedOnce.Length && Interlocked.Exchange(ref failedOnce[message.Id], 1) == 0)
        {
            Interlocked.Increment(ref failures);
            throw new BenchFailureException();
        }

        var now = Stopwatch.GetTimestamp();
        if (latency is not null && message.Id >= latencySkip)
        {
            var micros = (long)Stopwatch.GetElapsedTime(message.SentTimestamp, now).TotalMicroseconds;
            lock (latencyLock)
            {
                latency.RecordValue(Math.Clamp(micros, 1, latency.HighestTrackableValue));
            }
        }

        if (consumedAt is not null && message.Id >= 0 && message.Id < consumedAt.Length)
        {
            Interlocked.CompareExchange(ref consumedAt[message.Id], now, 0);
        }

        if (Interlocked.CompareExchange(ref firstTimestamp, now, 0) == 0)
        {
            firstCpu = Environment.CpuUsage.TotalTime;
        }

        var consumed = Interlocked.Increment(ref count);
        InterlockedMax(ref lastTimestamp, now);
        if (consumed == target)
        {
            lastCpu = Environment.CpuUsage.TotalTime;
            completed.TrySetResult();
        }
    }

    /// <summary>Waits for all messages, failing with a clear message when progress stalls.</summary>
    public async Task WaitAsync(TimeSpan stallTimeout, CancellationToken cancellationToken)
    {
        var last = -1L;
        while (!completed.Task.IsCompleted)
        {
            var current = Count;
            if (current == last)
            {
                throw new TimeoutException($"Consumers stalled at {current} of {target} messages for {stallTimeout.TotalSeconds:0} s.");
            }

            last = current;
            await Task.WhenAny(completed.Task, Task.Delay(stallTimeout, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private static void InterlockedMax(ref long location, long value)
    {
        var current = Interlocked.Read(ref location);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
