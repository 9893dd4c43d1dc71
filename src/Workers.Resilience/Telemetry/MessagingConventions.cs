using System.Diagnostics.Metrics;

namespace Workers.Resilience.Telemetry;

/// <summary>
/// Names and values of the OpenTelemetry messaging semantic conventions (metrics, RabbitMQ) that Workers emits, beside
/// its own <c>workers.*</c> instruments. The conventions are at <em>development</em> stability: the names follow the
/// current registry (<c>messaging.client.sent.messages</c>, not the older <c>messaging.client.published.messages</c>).
/// Every instrument and its attributes are listed in <c>docs/telemetry.md</c>.
/// </summary>
internal static class MessagingConventions
{
    /// <summary>Consumer: deliveries handed to the application, once per delivery.</summary>
    public const string ConsumedMessages = "messaging.client.consumed.messages";

    /// <summary>Consumer: duration of one processing attempt of a delivery.</summary>
    public const string ProcessDuration = "messaging.process.duration";

    /// <summary>Producer: messages the client attempted to send to the broker.</summary>
    public const string SentMessages = "messaging.client.sent.messages";

    /// <summary>Producer: duration of one send operation (here: a publish until the broker's confirm).</summary>
    public const string ClientOperationDuration = "messaging.client.operation.duration";

    public const string SystemAttribute = "messaging.system";
    public const string DestinationNameAttribute = "messaging.destination.name";
    public const string OperationNameAttribute = "messaging.operation.name";
    public const string OperationTypeAttribute = "messaging.operation.type";
    public const string ErrorTypeAttribute = "error.type";

    /// <summary>The well-known <c>messaging.system</c> value for RabbitMQ.</summary>
    public const string RabbitMq = "rabbitmq";

    /// <summary><c>messaging.operation.type</c> (and name) of a consumer processing a delivery pushed to it.</summary>
    public const string Process = "process";

    /// <summary><c>messaging.operation.type</c> of a producer handing a message to the broker.</summary>
    public const string Send = "send";

    /// <summary><c>messaging.operation.name</c> of a producer's send: the AMQP method is <c>basic.publish</c>.</summary>
    public const string Publish = "publish";

    /// <summary>The explicit bucket boundaries, in seconds, the conventions give both duration histograms.</summary>
    public static readonly IReadOnlyList<double> DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

    /// <summary>A duration histogram in seconds with the conventions' bucket boundaries as advice.</summary>
    public static Histogram<double> CreateDuration(string name, string description) =>
        WorkersDiagnostics.Meter.CreateHistogram(name, "s", description, tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    /// <summary>The <c>error.type</c> of a failure: the exception type's full name (the conventions' canonical class name).</summary>
    public static string ErrorType(Exception exception) => exception.GetType().FullName ?? exception.GetType().Name;
}
