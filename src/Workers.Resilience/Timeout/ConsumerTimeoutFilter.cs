using MassTransit;
using Microsoft.Extensions.Logging;
using Workers.Resilience.Bulkhead;

namespace Workers.Resilience.Timeout;

/// <summary>
/// The timeout stage of one consumer (inside its bulkhead): cancels the consumer's token at the timeout and fails
/// the attempt with <see cref="ConsumerTimeoutException"/>. When the consumer does not return within the grace
/// period it is reported, the attempt fails anyway, and the bulkhead permit stays held until the consumer returns.
/// </summary>
internal sealed class ConsumerTimeoutFilter : IFilter<ConsumeContext>
{
    private readonly ConsumerTimeout timeout;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly ConsumerMessageTypes messageTypes;

    public ConsumerTimeoutFilter(ConsumerTimeoutRegistry registry, TimeoutSettings settings)
    {
        messageTypes = settings.MessageTypes;
        timeout = registry.GetOrAdd(settings.Consumer, settings.Options);
        time = registry.TimeProvider;
        logger = registry.Logger;
    }

    public void Probe(ProbeContext context)
    {
        var scope = context.CreateFilterScope("workers-timeout");
        scope.Add("consumer", timeout.Consumer);
        scope.Add("timeout", timeout.Timeout);
    }

    public async Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        if (!messageTypes.Matches(context))
        {
            await next.Send(context).ConfigureAwait(false);
            return;
        }

        var deadline = new CancellationTokenSource(timeout.Timeout, time);
        var linked = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, deadline.Token);
        var running = next.Send(new TimeoutConsumeContext(context, linked.Token));
        var disposeNow = true;
        try
        {
            var expired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (deadline.Token.Register(static state => ((TaskCompletionSource)state!).TrySetResult(), expired))
            {
                if (await Task.WhenAny(running, expired.Task).ConfigureAwait(false) == running)
                {
                    try
                    {
                        await running.ConfigureAwait(false);
                        return;
                    }
                    catch (Exception ex) when (deadline.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested && ex is not DependencyUnavailableException)
                    {
                        throw TimedOut(context, ex);
                    }
                }
            }

            // The deadline passed first: the token is cancelled; give the consumer its grace period.
            using var graceOver = new CancellationTokenSource();
            var grace = Task.Delay(timeout.GracePeriod, time, graceOver.Token);
            var first = await Task.WhenAny(running, grace).ConfigureAwait(false);
            await graceOver.CancelAsync().ConfigureAwait(false);
            if (first != running)
            {
                disposeNow = false;
                timeout.OnIgnoredCancellation(running);
                for (var lease = BulkheadLease.Current; lease is not null; lease = lease.Outer)
                {
                    lease.DeferUntil(running);
                }

                _ = running.ContinueWith(static (_, state) => Dispose(state), (deadline, linked), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                TimeoutLog.IgnoredCancellation(logger, timeout.Consumer, timeout.GracePeriod, context.MessageId);
                throw TimedOut(context, null);
            }

            try
            {
                await running.ConfigureAwait(false);
            }
            catch (Exception ex) when (!context.CancellationToken.IsCancellationRequested && ex is not DependencyUnavailableException)
            {
                throw TimedOut(context, ex);
            }
        }
        finally
        {
            if (disposeNow)
            {
                linked.Dispose();
                deadline.Dispose();
            }
        }
    }

    private static void Dispose(object? state)
    {
        var (deadline, linked) = ((CancellationTokenSource, CancellationTokenSource))state!;
        linked.Dispose();
        deadline.Dispose();
    }

    private ConsumerTimeoutException TimedOut(ConsumeContext context, Exception? inner)
    {
        timeout.OnTimedOut();
        TimeoutLog.TimedOut(logger, timeout.Consumer, timeout.Timeout, context.MessageId);
        var message = $"Consumer '{timeout.Consumer}' timed out after {timeout.Timeout}.";
        // An inner OperationCanceledException would make MassTransit treat the failure as a cancellation, not a timeout.
        return inner is null || inner is OperationCanceledException || inner.GetBaseException() is OperationCanceledException
            ? new ConsumerTimeoutException(message)
            : new ConsumerTimeoutException(message, inner);
    }
}
