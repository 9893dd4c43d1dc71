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
        var lease = await bulkhead.AcquireAsync(context.CancellationToken).ConfigureAwait(false)
            ?? throw new BulkheadRejectedException($"The bulkhead of '{bulkhead.Consumer}' is full: the message is returned to the queue.");
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
