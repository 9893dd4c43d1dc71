using System.ComponentModel.DataAnnotations;

namespace Workers.Resilience;

/// <summary>
/// A bulkhead around one consumer: at most <see cref="PermitLimit"/> of its messages run at once and at most
/// <see cref="QueueLimit"/> more wait in process for a permit. A message beyond both is returned to the broker
/// queue (nacked with requeue, <see cref="BulkheadRejectedException"/>) without counting an attempt.
/// The limits can be changed at run time through <see cref="BulkheadRegistry"/>.
/// </summary>
public sealed class BulkheadOptions
{
    /// <summary>Messages of this consumer that may run at the same time.</summary>
    [Range(1, BulkheadConstants.MaxPermitLimit)]
    public int PermitLimit { get; set; } = BulkheadConstants.DefaultPermitLimit;

    /// <summary>
    /// Messages that may wait in process for a permit. Each waiting message holds one of the endpoint's prefetch
    /// slots, so keep <c>PermitLimit + QueueLimit</c> below the endpoint's prefetch count when consumers share an endpoint.
    /// </summary>
    [Range(0, BulkheadConstants.MaxQueueLimit)]
    public int QueueLimit { get; set; } = BulkheadConstants.DefaultQueueLimit;

    /// <summary>What happens to a message when the permits and the queue are full.</summary>
    public BulkheadOverflow Overflow { get; set; } = BulkheadConstants.DefaultOverflow;

    /// <summary>Checks every setting; returns all errors, each prefixed with <paramref name="path"/>.</summary>
    /// <param name="path">The configuration path of these options.</param>
    public IReadOnlyList<string> Validate(string path = "Bulkhead")
    {
        var errors = new List<string>();
        if (PermitLimit < 1 || PermitLimit > BulkheadConstants.MaxPermitLimit)
        {
            errors.Add($"{path}:{nameof(PermitLimit)} must be between 1 and {BulkheadConstants.MaxPermitLimit} (was {PermitLimit}).");
        }

        if (QueueLimit < 0 || QueueLimit > BulkheadConstants.MaxQueueLimit)
        {
            errors.Add($"{path}:{nameof(QueueLimit)} must be between 0 and {BulkheadConstants.MaxQueueLimit} (was {QueueLimit}).");
        }

        if (!Enum.IsDefined(Overflow))
        {
            errors.Add($"{path}:{nameof(Overflow)} must be {nameof(BulkheadOverflow.Requeue)} or {nameof(BulkheadOverflow.MoveToBack)} (was {Overflow}).");
        }

        return errors;
    }
}
