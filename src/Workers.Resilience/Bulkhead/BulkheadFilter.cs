using System.Reflection;
using MassTransit;
using Microsoft.Extensions.Logging;
using Workers.Resilience.Classification;
using Workers.Resilience.Telemetry;

namespace Workers.Resilience.Bulkhead;

/// <summary>
/// The bulkhead stage of one consumer, on the endpoint's consume pipe (before MassTransit creates the consumer, so that
/// a rejection reaches the transport as a requeue): only messages of the consumer's types take its permits.
/// </summary>
internal sealed class BulkheadFilter : IFilter<ConsumeContext>
{
    private static readonly MethodInfo ForwardMethod = typeof(BulkheadFilter).GetMethod(nameof(ForwardAsync), BindingFlags.NonPublic | BindingFlags.Static)!;

    private readonly ConsumerBulkhead bulkhead;
    private readonly ConsumerMessageTypes messageTypes;
    private readonly Func<ConsumeContext, ISendEndpoint, Task<bool>>[] forwarders;
    private readonly ILogger logger;
    private readonly TimeProvider time;

    public BulkheadFilter(BulkheadRegistry registry, BulkheadSettings settings)
    {
        logger = registry.Logger;
        time = registry.Time;
        bulkhead = registry.GetOrAdd(settings.Consumer, settings.Options);
        messageTypes = settings.MessageTypes;
        forwarders = [.. messageTypes.Types.Select(t => ForwardMethod.MakeGenericMethod(t).CreateDelegate<Func<ConsumeContext, ISendEndpoint, Task<bool>>>())];
    }

    public void Probe(ProbeContext context)
    {
        var scope = context.CreateFilterScope("workers-bulkhead");
        var snapshot = bulkhead.Snapshot();
        scope.Add("consumer", snapshot.Consumer);
        scope.Add("permitLimit", snapshot.PermitLimit);
        scope.Add("queueLimit", snapshot.QueueLimit);
    }

    public async Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        if (!messageTypes.Matches(context))
        {
            await next.Send(context).ConfigureAwait(false);
            return;
        }

        var lease = await bulkhead.AcquireAsync(context.CancellationToken).ConfigureAwait(false);
        if (lease is null)
        {
            var action = bulkhead.Overflow == BulkheadOverflow.MoveToBack ? "moved to the back of the queue" : "returned to the queue";
            BulkheadLog.Overflow(logger, bulkhead.Consumer, context.MessageId, action);
            WorkersDiagnostics.AddEvent("workers.bulkhead.rejected", new("consumer", bulkhead.Consumer), new("overflow", bulkhead.Overflow.ToString()));
            if (bulkhead.Overflow != BulkheadOverflow.MoveToBack)
            {
                // Held for a moment first: the broker would hand it straight back (a busy loop at network speed).
                // A stop cancels the pause, and the cancellation requeues it as well.
                await Task.Delay(BulkheadConstants.RequeuePause, time, context.CancellationToken).ConfigureAwait(false);
                throw new BulkheadRejectedException($"The bulkhead of '{bulkhead.Consumer}' is full: the message is returned to the queue.");
            }

            await MoveToBackAsync(context).ConfigureAwait(false);
            return;
        }

        var outer = BulkheadLease.Current;
        lease.Outer = outer;
        BulkheadLease.Current = lease;
        try
        {
            await next.Send(context).ConfigureAwait(false);
        }
        finally
        {
            BulkheadLease.Current = outer;
            lease.Complete();
        }
    }

    private static async Task<bool> ForwardAsync<TMessage>(ConsumeContext context, ISendEndpoint queue)
        where TMessage : class
    {
        if (!context.TryGetMessage<TMessage>(out var typed))
        {
            return false;
        }

        await context.Forward(queue, typed.Message).ConfigureAwait(false);
        return true;
    }

    private async Task MoveToBackAsync(ConsumeContext context)
    {
        // Under the redelivery stage: a byte-exact copy through the delay ladder's shortest step, every header and the
        // trusted attempt count kept (a plain forward re-serialises the message without its transport headers, and a copy
        // that did not come back through the ladder restarts its count at 0 — each bounce gave a failing message more
        // attempts). The ladder's step also spaces the bounces of a saturated consumer's overflow.
        if (context.TryGetPayload<DeferralAvailable>(out _))
        {
            throw new DeferredDeliveryException($"bulkhead overflow of '{bulkhead.Consumer}'", TimeSpan.Zero);
        }

        var queue = await context.GetSendEndpoint(context.ReceiveContext.InputAddress).ConfigureAwait(false);
        foreach (var forward in forwarders)
        {
            if (await forward(context, queue).ConfigureAwait(false))
            {
                context.GetOrAddPayload(() => MovedToBack.Instance);
                return;
            }
        }

        throw new BulkheadRejectedException($"The bulkhead of '{bulkhead.Consumer}' is full: the message is returned to the queue.");
    }
}
