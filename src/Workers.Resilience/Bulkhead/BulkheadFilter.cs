using MassTransit;

namespace Workers.Resilience.Bulkhead;

/// <summary>The bulkhead stage of one consumer for one of its message types (all share the consumer's permits).</summary>
internal sealed class BulkheadFilter<TMessage> : IFilter<ConsumeContext<TMessage>>
    where TMessage : class
{
    private readonly ConsumerBulkhead bulkhead;

    public BulkheadFilter(ConsumerBulkhead bulkhead)
    {
        this.bulkhead = bulkhead;
    }

    public void Probe(ProbeContext context)
    {
        var scope = context.CreateFilterScope("workers-bulkhead");
        var snapshot = bulkhead.Snapshot();
        scope.Add("consumer", snapshot.Consumer);
        scope.Add("permitLimit", snapshot.PermitLimit);
        scope.Add("queueLimit", snapshot.QueueLimit);
    }

    public async Task Send(ConsumeContext<TMessage> context, IPipe<ConsumeContext<TMessage>> next)
    {
        var lease = await bulkhead.AcquireAsync(context.CancellationToken).ConfigureAwait(false);
        if (lease is null)
        {
            if (bulkhead.Overflow != BulkheadOverflow.MoveToBack)
            {
                throw new BulkheadRejectedException($"The bulkhead of '{bulkhead.Consumer}' is full: the message is returned to the queue.");
            }

            var queue = await context.GetSendEndpoint(context.ReceiveContext.InputAddress).ConfigureAwait(false);
            await context.Forward(queue, context.Message).ConfigureAwait(false);
            context.GetOrAddPayload(() => MovedToBack.Instance);
            return;
        }

        BulkheadLease.Current = lease;
        try
        {
            await next.Send(context).ConfigureAwait(false);
        }
        finally
        {
            BulkheadLease.Current = null;
            lease.Complete();
        }
    }
}
