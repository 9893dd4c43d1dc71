using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Workers.Resilience.Telemetry;

namespace Workers.Resilience.Bulkhead;

/// <summary>
/// The permits of one consumer: a counting limiter whose limits can change while it runs, with a bounded FIFO
/// of waiters. Raising the permit limit admits waiters at once; lowering it lets running messages finish and
/// admits nobody new until the count is below the new limit.
/// </summary>
internal sealed class ConsumerBulkhead
{
    private static readonly ConcurrentDictionary<ConsumerBulkhead, byte> Live = new();
    private static readonly Counter<long> RejectedCounter = WorkersDiagnostics.Meter.CreateCounter<long>(
        "workers.bulkhead.rejected", unit: "{message}", description: "Messages returned to the queue because the consumer's bulkhead was full.");

    private readonly Lock gate = new();
    private readonly LinkedList<TaskCompletionSource<bool>> waiters = new();
    private int permitLimit;
    private int queueLimit;
    private int inFlight;
    private long rejected;

    static ConsumerBulkhead()
    {
        WorkersDiagnostics.Meter.CreateObservableGauge("workers.bulkhead.in_flight", () => Observe(b => b.InFlight), unit: "{message}", description: "Messages holding a permit of the consumer's bulkhead.");
        WorkersDiagnostics.Meter.CreateObservableGauge("workers.bulkhead.waiting", () => Observe(b => b.Waiting), unit: "{message}", description: "Messages waiting for a permit of the consumer's bulkhead.");
    }

    public ConsumerBulkhead(string consumer, BulkheadOptions options)
    {
        Consumer = consumer;
        permitLimit = options.PermitLimit;
        queueLimit = options.QueueLimit;
        Overflow = options.Overflow;
        Live.TryAdd(this, 0);
    }

    public string Consumer { get; }

    public BulkheadOverflow Overflow { get; }

    public int InFlight
    {
        get
        {
            lock (gate)
            {
                return inFlight;
            }
        }
    }

    public int Waiting
    {
        get
        {
            lock (gate)
            {
                return waiters.Count;
            }
        }
    }

    public BulkheadSnapshot Snapshot()
    {
        lock (gate)
        {
            return new BulkheadSnapshot(Consumer, permitLimit, queueLimit, inFlight, waiters.Count, rejected);
        }
    }

    /// <summary>Takes a permit, waiting in the queue when allowed; null when the bulkhead is full (the caller rejects the message).</summary>
    public async ValueTask<BulkheadLease?> AcquireAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource<bool> waiter;
        LinkedListNode<TaskCompletionSource<bool>> node;
        lock (gate)
        {
            if (inFlight < permitLimit && waiters.Count == 0)
            {
                inFlight++;
                return new BulkheadLease(this);
            }

            if (waiters.Count >= queueLimit)
            {
                rejected++;
                RejectedCounter.Add(1, new KeyValuePair<string, object?>("consumer", Consumer));
                return null;
            }

            waiter = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            node = waiters.AddLast(waiter);
        }

        using (cancellationToken.Register(() => Cancel(node)))
        {
            await waiter.Task.ConfigureAwait(false);
        }

        return new BulkheadLease(this);
    }

    /// <summary>Changes the limits; waiters are admitted at once when the permit limit grows.</summary>
    public void SetLimits(int newPermitLimit, int newQueueLimit)
    {
        lock (gate)
        {
            permitLimit = newPermitLimit;
            queueLimit = newQueueLimit;
            Admit();
        }
    }

    public void Untrack() => Live.TryRemove(this, out _);

    internal void Release()
    {
        lock (gate)
        {
            inFlight--;
            Admit();
        }
    }

    private static IEnumerable<Measurement<int>> Observe(Func<ConsumerBulkhead, int> value)
    {
        foreach (var bulkhead in Live.Keys)
        {
            yield return new Measurement<int>(value(bulkhead), new KeyValuePair<string, object?>("consumer", bulkhead.Consumer));
        }
    }

    // Called under the lock.
    private void Admit()
    {
        while (inFlight < permitLimit && waiters.First is { } first)
        {
            waiters.RemoveFirst();
            if (first.Value.TrySetResult(true))
            {
                inFlight++;
            }
        }
    }

    private void Cancel(LinkedListNode<TaskCompletionSource<bool>> node)
    {
        lock (gate)
        {
            if (node.List is null)
            {
                return; // already admitted
            }

            waiters.Remove(node);
        }

        node.Value.TrySetCanceled();
    }
}
