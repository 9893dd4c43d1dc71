using System.Diagnostics;
using System.Diagnostics.Metrics;
using MassTransit;

namespace Workers.Resilience.Telemetry;

/// <summary>
/// The endpoint's OpenTelemetry messaging metrics, consumer side: <c>messaging.client.consumed.messages</c> once per
/// delivery and <c>messaging.process.duration</c> once per processing attempt, with <c>error.type</c> when the attempt
/// failed.
/// </summary>
/// <remarks>
/// <para>The stage sits directly inside the redelivery stage and outside the circuit breaker (the order is written once,
/// on <c>Workers.Hosting.EndpointPipeline</c> and in the Workers.Resilience README). Inside redelivery, because that stage
/// ends every failure it handles (a copy into the delay ladder or <c>&lt;queue&gt;_error</c>, then the original is
/// acked): a stage outside it would see every failed message as a success and would time the ladder publish instead
/// of the consumer. Outside the breaker, bulkhead, timeout and inbox, because those stages handle deliveries too: a
/// message returned untouched by an open breaker or a full bulkhead, a timed-out attempt, a duplicate the inbox absorbs
/// — each is a delivery the endpoint handled, and its attempt's duration and <c>error.type</c>
/// (<c>Workers.Resilience.BulkheadRejectedException</c>, <c>Workers.Resilience.ConsumerTimeoutException</c>, …) say how
/// it went. The duration therefore includes a wait for a bulkhead permit and the inbox's database round trips: it is the
/// endpoint's processing of the message, as the application sees it.</para>
/// <para>Immediate retries run inside the redelivery stage, on the same consume context: each is a processing attempt
/// (one duration each), while the delivery is counted once (a payload marks it). A redelivery through the delay ladder
/// comes back as a new delivery and is counted again.</para>
/// <para><c>messaging.client.consumed.messages</c> is counted when the delivery reaches the stage, before processing, as
/// the conventions ask when receiving and processing are both instrumented ("incremented when the message is received");
/// so it never carries <c>error.type</c> (the broker's delivery did not fail; the processing did, and that is on the
/// duration).</para>
/// </remarks>
internal sealed class MessagingTelemetryFilter : IFilter<ConsumeContext>
{
    private static readonly Counter<long> Consumed = WorkersDiagnostics.Meter.CreateCounter<long>(
        MessagingConventions.ConsumedMessages, "{message}", "Deliveries handed to a Workers endpoint (once per delivery; immediate retries not counted again).");

    private static readonly Histogram<double> Duration = MessagingConventions.CreateDuration(
        MessagingConventions.ProcessDuration, "Duration of one processing attempt of a delivery by a Workers endpoint (inside redelivery, outside the circuit breaker).");

    private readonly MessagingTelemetrySettings settings;

    public MessagingTelemetryFilter(MessagingTelemetrySettings settings) => this.settings = settings;

    public void Probe(ProbeContext context)
    {
        var scope = context.CreateFilterScope("workers-messaging-telemetry");
        scope.Add("destination", settings.Destination);
    }

    public async Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        if (!context.TryGetPayload<Counted>(out _))
        {
            context.GetOrAddPayload(static () => Counted.Instance);
            var tags = Tags();
            Consumed.Add(1, tags);
        }

        var started = settings.Time.GetTimestamp();
        try
        {
            await next.Send(context).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            var failed = Tags();
            failed.Add(MessagingConventions.ErrorTypeAttribute, MessagingConventions.ErrorType(ex));
            Duration.Record(settings.Time.GetElapsedTime(started).TotalSeconds, failed);
            throw;
        }

        var succeeded = Tags();
        Duration.Record(settings.Time.GetElapsedTime(started).TotalSeconds, succeeded);
    }

    private TagList Tags() => new()
    {
        { MessagingConventions.SystemAttribute, MessagingConventions.RabbitMq },
        { MessagingConventions.DestinationNameAttribute, settings.Destination },
        { MessagingConventions.OperationNameAttribute, MessagingConventions.Process },
        { MessagingConventions.OperationTypeAttribute, MessagingConventions.Process },
    };

    /// <summary>Marks a consume context whose delivery is counted already (immediate retries reuse the context).</summary>
    private sealed class Counted
    {
        public static readonly Counted Instance = new();
    }
}

/// <summary>What the messaging telemetry stage of one endpoint needs.</summary>
/// <param name="Destination">The <c>messaging.destination.name</c>: the endpoint's queue, which is also the name of the exchange MassTransit binds to it.</param>
/// <param name="Time">The clock the durations are measured on.</param>
internal sealed record MessagingTelemetrySettings(string Destination, TimeProvider Time);
