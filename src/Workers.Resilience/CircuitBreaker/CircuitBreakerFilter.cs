using MassTransit;
using Workers.Resilience.Classification;
using Workers.Resilience.DeadLetter;

namespace Workers.Resilience.CircuitBreaker;

/// <summary>
/// The circuit breaker stage (endpoint consume pipe, inside redelivery). Fresh transient failures count, once per
/// message (a message failing again — from the delay ladder, or seen failing by this breaker — does not); permanent
/// ones (by the endpoint's classifier, handed down by the redelivery stage as a payload), cancellations at shutdown and requeue signals of inner stages do not. Once the breaker is not closed,
/// a failing message is turned into <see cref="CircuitBreakerOpenException"/>: it goes back to the queue.
/// </summary>
internal sealed class CircuitBreakerFilter : IFilter<ConsumeContext>
{
    private readonly EndpointCircuitBreaker breaker;
    private readonly ExceptionClassifier classifier;

    public CircuitBreakerFilter(EndpointCircuitBreaker breaker, ExceptionClassifier classifier)
    {
        this.breaker = breaker;
        this.classifier = classifier;
    }

    public void Probe(ProbeContext context)
    {
        var scope = context.CreateFilterScope("workers-circuit-breaker");
        var snapshot = breaker.Snapshot();
        scope.Add("name", snapshot.Name);
        scope.Add("state", snapshot.State.ToString());
    }

    public async Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        // The redelivery stage outside hands down the endpoint's classifier, so that a failure it dead-letters as
        // permanent is never counted here as evidence of an outage; without that stage, the registry's.
        var classifier = context.TryGetPayload<ExceptionClassifier>(out var endpointClassifier) ? endpointClassifier : this.classifier;
        var probe = await breaker.EnterAsync(context.CancellationToken).ConfigureAwait(false);
        try
        {
            await next.Send(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsRequeueSignal(ex, context.CancellationToken) || classifier.Classify(ex) == FailureDisposition.DeadLetter)
        {
            breaker.OnAbandoned(probe);
            throw;
        }
        catch (Exception ex)
        {
            switch (breaker.OnFailure(probe, ex, MessageId(context), FailedBefore(context)))
            {
                case CircuitFailureVerdict.Requeue:
                    throw new CircuitBreakerOpenException($"Circuit '{breaker.Name}' opened: the failed message is returned to the queue without counting an attempt.", ex);
                case CircuitFailureVerdict.Defer:
                    throw new DeferredDeliveryException($"circuit '{breaker.Name}': the probe failed again", breaker.DeferDelay, ex);
                default:
                    throw;
            }
        }

        if (context.TryGetPayload<Bulkhead.MovedToBack>(out _))
        {
            breaker.OnAbandoned(probe);
            return;
        }

        breaker.OnSuccess(probe);
    }

    private static string? MessageId(ConsumeContext context) =>
        context.MessageId?.ToString()
        ?? (context.ReceiveContext.TryGetPayload<RabbitMqBasicConsumeContext>(out var rabbit) ? rabbit.Properties.MessageId : null);

    private static bool FailedBefore(ConsumeContext context) =>
        context.ReceiveContext.TryGetPayload<RabbitMqBasicConsumeContext>(out var rabbit)
        && FailedBefore(rabbit.Exchange, context.ReceiveContext.TransportHeaders.TryGetHeader(WorkersHeaders.FirstFailure, out _));

    /// <summary>
    /// Whether a delivery has failed before, by what Workers itself wrote: the delay ladder handed it back (only Workers
    /// publishes there) carrying a first-failure time (a redelivery, or a deferred probe — not a bulkhead move of a
    /// message that never failed). A producer's header on any other delivery is not believed.
    /// </summary>
    internal static bool FailedBefore(string? exchange, bool hasFirstFailure) =>
        hasFirstFailure && exchange is not null && exchange.StartsWith(Redelivery.DelayLadder.Prefix + ".", StringComparison.Ordinal);

    internal static bool IsRequeueSignal(Exception exception, CancellationToken consumeToken) =>
        exception is CircuitBreakerOpenException or DeferredDeliveryException or BulkheadRejectedException or DependencyUnavailableException
        || (exception is OperationCanceledException && consumeToken.IsCancellationRequested);
}
