namespace Workers.Resilience.Bulkhead;

/// <summary>
/// A held permit. Released once, when the message's pipe returns, unless a timed-out consumer that ignored its
/// cancellation is still running: then the timeout stage defers the release until that consumer really returns,
/// so a runaway consumer keeps counting against the bulkhead.
/// </summary>
internal sealed class BulkheadLease
{
    private static readonly AsyncLocal<BulkheadLease?> CurrentLease = new();
    private readonly ConsumerBulkhead bulkhead;
    private int released;
    private int deferred;

    public BulkheadLease(ConsumerBulkhead bulkhead)
    {
        this.bulkhead = bulkhead;
    }

    /// <summary>The lease taken by an enclosing bulkhead of the same message (several consumers' bulkheads can nest).</summary>
    public BulkheadLease? Outer { get; set; }

    /// <summary>The innermost lease of the message running on this async flow, seen by the stages inside the bulkhead.</summary>
    public static BulkheadLease? Current
    {
        get => CurrentLease.Value;
        set => CurrentLease.Value = value;
    }

    /// <summary>Releases the permit when <paramref name="stillRunning"/> completes instead of when the pipe returns.</summary>
    public void DeferUntil(Task stillRunning)
    {
        Interlocked.Exchange(ref deferred, 1);
        stillRunning.ContinueWith(static (_, state) => ((BulkheadLease)state!).ReleaseNow(), this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>The pipe returned: releases the permit unless the release was deferred.</summary>
    public void Complete()
    {
        if (Volatile.Read(ref deferred) == 0)
        {
            ReleaseNow();
        }
    }

    private void ReleaseNow()
    {
        if (Interlocked.Exchange(ref released, 1) == 0)
        {
            bulkhead.Release();
        }
    }
}
