using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Workers.Postgres;
using Workers.Resilience;

namespace Workers.Hosting;

/// <summary>
/// Builds one endpoint's consume pipeline, outermost to innermost:
/// <c>dead-letter fallback → redelivery → messaging telemetry → circuit breaker → bulkhead → timeout → inbox (dedupe) → consumer</c>.
/// This remark and the Workers.Resilience README are the one place the order is written; elsewhere link here.
/// What each stage does with a failed message:
/// <list type="bullet">
/// <item>redelivery (with dead-letter): a transient failure is retried later through the broker's delay ladder;
/// a permanent one, or one whose attempts are used up, is dead-lettered to <c>&lt;queue&gt;_error</c> with its fault headers;</item>
/// <item>messaging telemetry: nothing (it rethrows); it records <c>messaging.process.duration</c> with <c>error.type</c> for
/// every attempt and counts the delivery once (<c>messaging.client.consumed.messages</c>). It sits inside redelivery,
/// which ends every failure it handles, so that it sees the failures, and outside the breaker, bulkhead, timeout and
/// inbox, so that it sees every delivery those stages turn away (docs/telemetry.md);</item>
/// <item>circuit breaker: while open the endpoint stops consuming; a message failing because of the outage goes
/// back to the queue untouched (not acked, not counted as an attempt);</item>
/// <item>bulkhead: at most <c>PermitLimit</c> messages run at once; overflow goes back to the broker, not counted;</item>
/// <item>timeout: the consumer is cancelled and the attempt counts as a transient failure;</item>
/// <item>inbox: a message already applied is acknowledged without running the consumer again.</item>
/// </list>
/// The application's own filters (<see cref="WorkersBuilder.ConfigureEndpoint"/>, then a consumer definition's
/// <c>ConfigureConsumer</c>) sit inside the inbox, ahead of the consumer.
/// </summary>
internal static class EndpointPipeline
{
    public static void Apply<TConsumer>(IRabbitMqReceiveEndpointConfigurator endpoint, IBusRegistrationContext context, EffectiveEndpoint settings)
        where TConsumer : class, IConsumer
    {
        endpoint.PrefetchCount = settings.PrefetchCount;

        // No Fault<T> event per failed attempt: a failure that is redelivered is not a fault yet, and MassTransit
        // publishes it from inside the consume pipe — inside the inbox transaction — where a broker outage made the
        // publish hang and hold the inbox row lock, so that every later attempt of that message timed out. A message
        // that fails for good lands in <queue>_error with its fault headers. Request/response callers still get their
        // fault (MassTransit sends it to a ResponseAddress or FaultAddress whatever this flag says).
        endpoint.PublishFaults = false;
        if (settings.ConcurrentMessageLimit is { } limit)
        {
            endpoint.ConcurrentMessageLimit = limit;
        }

        // The consumer watchdog follows what the endpoint receives and whether it is ready.
        var activity = context.GetRequiredService<EndpointActivityRegistry>().For(settings.Queue);
        endpoint.ConnectReceiveEndpointObserver(activity);

        if (settings.QueueType == QueueType.Quorum)
        {
            endpoint.SetQuorumQueue();

            // RabbitMQ 4.0-4.2 drop a quorum queue's message after 20 returns, and Workers returns messages on purpose
            // (open breaker, bulkhead overflow, shutdown, every `workers dlq` read). MassTransit copies the endpoint's
            // queue arguments onto <queue>_error and <queue>_skipped, so all three get a limit no return count reaches,
            // the same one the dead-letter stage declares its error queue with.
            endpoint.SetQueueArgument(Workers.Resilience.Broker.QuorumQueueArguments.DeliveryLimit, Workers.Resilience.Broker.QuorumQueueArguments.UnreachableDeliveryLimit);
            context.GetRequiredService<Workers.Resilience.Broker.ErrorQueueTypes>().UseQuorum(settings.Queue + Workers.Resilience.DeadLetter.DeadLetterConstants.ErrorQueueSuffix);
        }

        endpoint.UseWorkersRedelivery(context, settings.Redelivery, settings.DeadLetter, settings.Classification);
        endpoint.UseWorkersMessagingTelemetry(context, settings.Queue);
        if (settings.CircuitBreaker is { } breaker)
        {
            endpoint.UseEndpointCircuitBreaker(context, breaker);
        }

        if (settings.Bulkhead is { } bulkhead)
        {
            endpoint.UseBulkhead<TConsumer>(context, bulkhead, settings.Queue);
        }

        if (settings.Timeout is { } timeout)
        {
            endpoint.UseConsumerTimeout<TConsumer>(context, timeout, settings.Queue);
        }

        if (settings.Inbox)
        {
            endpoint.UseWorkersInbox(context);
        }
    }
}
