using MassTransit;
using RabbitMQ.Client;
using Workers.Resilience.Broker;
using Workers.Resilience.Redelivery;
using Workers.Resilience.Telemetry;

namespace Workers.Resilience.DeadLetter;

/// <summary>
/// The dead-letter stage of one endpoint: runs the user's fallback (bounded, its failure logged, never in the way),
/// then writes a byte-exact copy of the message with its fault headers (<see cref="FaultHeaders"/>) to
/// <c>&lt;queue&gt;_error</c>, confirmed by the broker before the redelivery stage lets MassTransit ack the original.
/// </summary>
internal sealed class DeadLetterWriter(BrokerClient broker, RedeliverySettings settings)
{
    private static readonly string MachineName = Environment.MachineName;
    private static readonly string HostName = $"{Environment.MachineName}/{Environment.ProcessId}";
    private static readonly string? HostVersion = FaultHeaders.ApplicationVersion();

    /// <summary>Dead-letters one message; throws when the broker did not take the copy (the caller holds the message then).</summary>
    public async Task WriteAsync(
        ConsumeContext context,
        Exception exception,
        string reason,
        int attempts,
        string queue,
        string consumerName,
        DateTimeOffset firstFailure,
        DateTimeOffset now,
        byte[] body,
        BasicProperties properties)
    {
        await RunFallbackAsync(context, exception, reason, attempts, queue).ConfigureAwait(false);

        var errorQueue = queue + DeadLetterConstants.ErrorQueueSuffix;
        var fault = new FaultDetails(
            exception,
            reason,
            attempts,
            queue,
            consumerName,
            context.SupportedMessageTypes.FirstOrDefault(),
            context.ReceiveContext.InputAddress?.ToString(),
            firstFailure,
            now,
            MachineName,
            HostName,
            HostVersion);
        FaultHeaders.Write(properties.Headers!, fault, settings.DeadLetter);

        // Its own budget, started after the fallback: a slow fallback cannot use up the publish's time.
        using var timeout = new CancellationTokenSource(BrokerClient.PublishTimeout, settings.Time);
        await broker.PublishErrorAsync(errorQueue, body, properties, timeout.Token).ConfigureAwait(false);
        RedeliveryDiagnostics.CountDeadLetter(queue, consumerName, reason);
        RedeliveryLog.DeadLettered(settings.Logger, exception, context.MessageId, queue, errorQueue, reason, attempts, consumerName);
        WorkersDiagnostics.AddEvent(
            RedeliveryDiagnostics.DeadLetteredEvent,
            new("queue", queue),
            new("reason", reason),
            new("attempts", attempts),
            new("exception.type", exception.GetType().FullName));
    }

    private async Task RunFallbackAsync(ConsumeContext context, Exception exception, string reason, int attempts, string queue)
    {
        if (settings.Fallback is null)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(settings.DeadLetter.FallbackTimeout, settings.Time);
        try
        {
            await settings.Fallback(new DeadLetterFallbackArguments(context, exception, reason, attempts, timeout.Token)).WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            RedeliveryLog.FallbackFailed(settings.Logger, ex, context.MessageId, queue);
        }
    }
}
