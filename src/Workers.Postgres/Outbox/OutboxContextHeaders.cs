using System.Diagnostics;
using MassTransit;

namespace Workers.Postgres.Outbox;

/// <summary>
/// What an outbox row carries from the moment it is staged to the moment it is published, in its headers under
/// reserved names (never put on the wire as such): the staging activity's W3C trace context, and — staged while a
/// message is consumed — that message's conversation and correlation ids and its MessageId as the initiator. The
/// dispatcher restores them: the published message continues the staging trace and conversation, as a publish from
/// the consumer itself would. Pure: no I/O.
/// </summary>
internal static class OutboxContextHeaders
{
    public const string TraceParent = "Workers-Outbox-TraceParent";
    public const string TraceState = "Workers-Outbox-TraceState";
    public const string ConversationId = "Workers-Outbox-ConversationId";
    public const string CorrelationId = "Workers-Outbox-CorrelationId";
    public const string InitiatorId = "Workers-Outbox-InitiatorId";
    public const string RequestId = "Workers-Outbox-RequestId";
    public const string ResponseAddress = "Workers-Outbox-ResponseAddress";
    public const string FaultAddress = "Workers-Outbox-FaultAddress";

    /// <summary>The prefix of every reserved name: never taken from a caller's headers.</summary>
    public const string ReservedPrefix = "Workers-Outbox-";

    /// <summary>Adds the staging context to <paramref name="headers"/> (which the caller's own headers may already fill).</summary>
    public static void Capture(IDictionary<string, string> headers, Activity? activity, ConsumeContext? consuming)
    {
        if (activity is { IdFormat: ActivityIdFormat.W3C, Id: { } id })
        {
            headers[TraceParent] = id;
            if (activity.TraceStateString is { Length: > 0 } state)
            {
                headers[TraceState] = state;
            }
        }

        if (consuming is null)
        {
            return;
        }

        if (consuming.ConversationId is { } conversation)
        {
            headers[ConversationId] = conversation.ToString("D");
        }

        if (consuming.CorrelationId is { } correlation)
        {
            headers[CorrelationId] = correlation.ToString("D");
        }

        if (consuming.MessageId is { } initiator)
        {
            headers[InitiatorId] = initiator.ToString("D");
        }
    }

    /// <summary>
    /// What a message built by MassTransit for the consumer's own <c>Publish</c>/<c>Send</c>/<c>Respond</c> carries beyond
    /// the consumed message's context: its correlation id (the message's own, or the pipe's) and, for a response or a
    /// request, its request id and response and fault addresses.
    /// </summary>
    public static void CaptureSent(IDictionary<string, string> headers, SendContext sent)
    {
        if (sent.CorrelationId is { } correlation)
        {
            headers[CorrelationId] = correlation.ToString("D");
        }

        if (sent.ConversationId is { } conversation)
        {
            headers[ConversationId] = conversation.ToString("D");
        }

        if (sent.RequestId is { } request)
        {
            headers[RequestId] = request.ToString("D");
        }

        if (sent.ResponseAddress is { } response)
        {
            headers[ResponseAddress] = response.ToString();
        }

        if (sent.FaultAddress is { } fault)
        {
            headers[FaultAddress] = fault.ToString();
        }
    }

    /// <summary>The staging trace context, when the row has a valid one.</summary>
    public static ActivityContext? Parent(IReadOnlyDictionary<string, string>? headers) =>
        headers is not null && headers.TryGetValue(TraceParent, out var parent)
            && ActivityContext.TryParse(parent, headers.GetValueOrDefault(TraceState), isRemote: true, out var context)
            ? context
            : null;

    /// <summary>Sets the ids on the outgoing message and the other headers as they are; the reserved ones are not sent.</summary>
    public static void Restore(SendContext context, IReadOnlyDictionary<string, string> headers)
    {
        foreach (var (key, value) in headers)
        {
            switch (key)
            {
                case TraceParent or TraceState:
                    break;
                case ConversationId:
                    context.ConversationId = Guid.TryParse(value, out var conversation) ? conversation : context.ConversationId;
                    break;
                case CorrelationId:
                    context.CorrelationId = Guid.TryParse(value, out var correlation) ? correlation : context.CorrelationId;
                    break;
                case InitiatorId:
                    context.InitiatorId = Guid.TryParse(value, out var initiator) ? initiator : context.InitiatorId;
                    break;
                case RequestId:
                    context.RequestId = Guid.TryParse(value, out var request) ? request : context.RequestId;
                    break;
                case ResponseAddress:
                    context.ResponseAddress = Uri.TryCreate(value, UriKind.Absolute, out var response) ? response : context.ResponseAddress;
                    break;
                case FaultAddress:
                    context.FaultAddress = Uri.TryCreate(value, UriKind.Absolute, out var fault) ? fault : context.FaultAddress;
                    break;
                default:
                    context.Headers.Set(key, value);
                    break;
            }
        }
    }
}
