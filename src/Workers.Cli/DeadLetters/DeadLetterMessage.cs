using System.Text.Json;
using RabbitMQ.Client;
using Workers.Cli.Broker;
using Workers.Cli.Publish;
using Workers.Resilience;

namespace Workers.Cli.DeadLetters;

/// <summary>
/// One message read from a dead-letter queue, with the facts read from both kinds of fault headers:
/// ours (<c>Workers-Fault-*</c>, preferred) and MassTransit's (<c>MT-Fault-*</c>).
/// </summary>
internal sealed class DeadLetterMessage
{
    public DeadLetterMessage(ulong deliveryTag, IReadOnlyBasicProperties properties, byte[] body, int position)
    {
        DeliveryTag = deliveryTag;
        Properties = properties;
        Body = body;
        Position = position;
        Headers = properties.Headers is null ? new Dictionary<string, object?>(StringComparer.Ordinal) : new Dictionary<string, object?>(properties.Headers, StringComparer.Ordinal);
        (EnvelopeMessageId, EnvelopeTypes) = ReadEnvelope(body);
        MessageId = properties.MessageId ?? EnvelopeMessageId;
        var faultType = HeaderText.Get(Headers, WorkersHeaders.FaultMessageType);
        MessageTypes = EnvelopeTypes.Count > 0 ? EnvelopeTypes : faultType is null ? [] : [MessageTypeName.ToUrn(faultType) ?? faultType];
        ExceptionType = HeaderText.Get(Headers, WorkersHeaders.FaultExceptionType);
        ExceptionMessage = HeaderText.Get(Headers, WorkersHeaders.FaultMessage);
        var retries = HeaderText.GetNumber(Headers, "MT-Fault-RetryCount") ?? 0;
        var redeliveries = HeaderText.GetNumber(Headers, WorkersHeaders.RedeliveryCount) ?? 0;
        Attempts = HeaderText.GetNumber(Headers, WorkersHeaders.FaultAttempts) ?? 1 + retries + redeliveries;
        LastFailure = HeaderText.GetTime(Headers, WorkersHeaders.FaultLastFailure) ?? HeaderText.GetTime(Headers, WorkersHeaders.FaultTimestamp);
        FirstFailure = HeaderText.GetTime(Headers, WorkersHeaders.FaultFirstFailure) ?? HeaderText.GetTime(Headers, WorkersHeaders.FirstFailure) ?? LastFailure;
        ReplayId = HeaderText.Get(Headers, WorkersHeaders.ReplayId);
        // MT-Fault-InputAddress is written by whoever dead-lettered the message (MassTransit or our middleware), replacing
        // any incoming copy; Workers-Fault-Queue is trusted only without it: MassTransit carries a producer's
        // Workers-Fault-Queue along when it dead-letters a message itself, so that header alone could redirect a replay.
        SourceQueue = QueueNames.FromAddress(HeaderText.Get(Headers, WorkersHeaders.FaultInputAddress)) ?? HeaderText.Get(Headers, WorkersHeaders.FaultQueue);
    }

    public ulong DeliveryTag { get; }

    /// <summary>0-based position in the dead-letter queue when it was read.</summary>
    public int Position { get; }

    public IReadOnlyBasicProperties Properties { get; }

    public IReadOnlyDictionary<string, object?> Headers { get; }

    public byte[] Body { get; }

    public string? MessageId { get; }

    public string? EnvelopeMessageId { get; }

    public IReadOnlyList<string> EnvelopeTypes { get; }

    /// <summary>The message's type URNs (from the envelope, else from <c>MT-Fault-MessageType</c>).</summary>
    public IReadOnlyList<string> MessageTypes { get; }

    /// <summary>Short display form of the first message type (<c>Namespace.TypeName</c>).</summary>
    public string DisplayType => MessageTypes.Count == 0 ? "?" : MessageTypeName.ToTypeName(MessageTypes[0]);

    public string? ExceptionType { get; }

    public string? ExceptionMessage { get; }

    public long Attempts { get; }

    public DateTimeOffset? FirstFailure { get; }

    public DateTimeOffset? LastFailure { get; }

    /// <summary>The replay run that last put this message back on its queue, if any.</summary>
    public string? ReplayId { get; }

    /// <summary>The queue the message failed on (the queue of <c>MT-Fault-InputAddress</c>, else <c>Workers-Fault-Queue</c>).</summary>
    public string? SourceQueue { get; }

    private static (string? MessageId, IReadOnlyList<string> Types) ReadEnvelope(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, []);
            }

            var id = document.RootElement.TryGetProperty("messageId", out var idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : null;
            var types = document.RootElement.TryGetProperty("messageType", out var typeElement) && typeElement.ValueKind == JsonValueKind.Array
                ? typeElement.EnumerateArray().Where(t => t.ValueKind == JsonValueKind.String).Select(t => t.GetString()!).ToList()
                : [];
            return (id, types);
        }
        catch (JsonException)
        {
            return (null, []);
        }
    }
}
