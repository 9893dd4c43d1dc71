namespace Workers.Resilience;

/// <summary>What a full bulkhead does with one more message. Either way no attempt is counted and nothing is lost.</summary>
public enum BulkheadOverflow
{
    /// <summary>
    /// Nack with requeue (<see cref="BulkheadRejectedException"/>): the message returns to its place at the head of
    /// the queue. Right for an endpoint of its own whose prefetch is at most <c>PermitLimit + QueueLimit</c> (then it never happens).
    /// </summary>
    Requeue = 0,

    /// <summary>
    /// Send the message (same body and headers) to the tail of its own queue, then acknowledge it. For an endpoint
    /// shared by several consumers: requeued messages go back to the head and a saturated consumer's backlog would
    /// block the others (head-of-line), moved ones let the others' messages through. Order is not kept; a crash
    /// between the send and the ack can duplicate the message (the inbox removes duplicates). Only for a message type
    /// consumed by this one consumer on the endpoint (the copy is delivered to every consumer of the type).
    /// </summary>
    MoveToBack = 1,
}
