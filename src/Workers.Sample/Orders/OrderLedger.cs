using System.Collections.Concurrent;

namespace Workers.Sample.Orders;

/// <summary>
/// What the sample's consumers did, per order: how many times each order was accepted (effects) and
/// how many attempts were made. The demo prints it; the tests check "exactly once" with it.
/// </summary>
public sealed class OrderLedger
{
    private readonly ConcurrentDictionary<Guid, int> accepted = new();
    private readonly ConcurrentDictionary<Guid, int> attempts = new();
    private readonly ConcurrentDictionary<Guid, int> notified = new();
    private int acceptedTotal;

    /// <summary>Raised after each accepted order (on the consumer's thread).</summary>
    public event Action<Guid>? Accepted;

    /// <summary>Orders accepted, with how many times each was accepted (more than 1 is a duplicate effect).</summary>
    public IReadOnlyDictionary<Guid, int> AcceptedOrders => accepted;

    /// <summary>Orders for which an <c>OrderAccepted</c> event was consumed, with counts.</summary>
    public IReadOnlyDictionary<Guid, int> NotifiedOrders => notified;

    /// <summary>Total acceptances, duplicates included.</summary>
    public int AcceptedTotal => Volatile.Read(ref acceptedTotal);

    /// <summary>Attempts made per order (first delivery and every redelivery).</summary>
    public IReadOnlyDictionary<Guid, int> Attempts => attempts;

    internal void RecordAttempt(Guid orderId) => attempts.AddOrUpdate(orderId, 1, (_, n) => n + 1);

    internal void RecordAccepted(Guid orderId)
    {
        accepted.AddOrUpdate(orderId, 1, (_, n) => n + 1);
        Interlocked.Increment(ref acceptedTotal);
        Accepted?.Invoke(orderId);
    }

    internal void RecordNotified(Guid orderId) => notified.AddOrUpdate(orderId, 1, (_, n) => n + 1);
}
