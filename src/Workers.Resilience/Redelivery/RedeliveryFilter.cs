using System.Collections.Concurrent;
using System.Globalization;
using System.IO;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using System.Text;
using MassTransit;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Workers.Resilience.Broker;
using Workers.Resilience.Classification;
using Workers.Resilience.DeadLetter;
using Workers.Resilience.Telemetry;

namespace Workers.Resilience.Redelivery;

/// <summary>
/// Dead-letter fallback + redelivery, outermost stages of the consume pipeline (the order is written in the
/// Workers.Resilience README and on Workers.Hosting's <c>EndpointPipeline</c>).
/// On a transient failure: immediate retries, then a byte-exact copy goes into the broker's delay ladder
/// (confirmed before the original is acked), with <c>MT-Redelivery-Count</c> + 1. On a permanent failure or when the
/// attempts are used up: the user fallback runs, then a byte-exact copy with fault headers goes to <c>&lt;queue&gt;_error</c>.
/// </summary>
internal sealed class RedeliveryFilter<TContext> : IFilter<TContext>
    where TContext : class, ConsumeContext
{

    private readonly BrokerClient transport;
    private readonly RedeliverySettings settings;
    private readonly ExceptionClassifier classifier;
    private readonly DeadLetterWriter deadLetters;

    // "Broker unavailable" holds per message in this process (see the bound in README.md); forgotten once the message is handled.
    private readonly ConcurrentDictionary<string, int> holds = new(StringComparer.Ordinal);

    public RedeliveryFilter(BrokerClient transport, RedeliverySettings settings)
    {
        this.transport = transport;
        this.settings = settings;
        classifier = new ExceptionClassifier(settings.Classification);
        deadLetters = new DeadLetterWriter(transport, settings);
    }

    // How long a message whose redelivery could not be published is held before it goes back to its queue.
    private static readonly TimeSpan RequeuePause = TimeSpan.FromSeconds(1);

    private const int MaxTrackedHolds = 10_000;

    public void Probe(ProbeContext context)
    {
        var scope = context.CreateFilterScope("workersRedelivery");
        scope.Add("maxRedeliveryAttempts", settings.Options.MaxRedeliveryAttempts);
        scope.Add("delay", settings.Options.Delay);
        scope.Add("maxDelay", settings.Options.MaxDelay);
        scope.Add("backoffType", settings.Options.BackoffType.ToString());
        scope.Add("useJitter", settings.Options.UseJitter);
        scope.Add("immediateRetries", settings.Options.ImmediateRetries);
    }

    public async Task Send(TContext context, IPipe<TContext> next)
    {
        // The endpoint's one classifier: the inner stages (circuit breaker) decide "permanent" with it too.
        context.AddOrUpdatePayload(() => classifier, _ => classifier);
        context.GetOrAddPayload(() => DeferralAvailable.Instance);
        var tries = 0;
        while (true)
        {
            try
            {
                await next.Send(context).ConfigureAwait(false);
                return;
            }
            catch (DeferredDeliveryException deferred) when (!context.CancellationToken.IsCancellationRequested)
            {
                await DeferAsync(context, deferred).ConfigureAwait(false);
                if (!context.ReceiveContext.IsDelivered && !context.ReceiveContext.IsFaulted)
                {
                    await context.ReceiveContext.NotifyFaulted(deferred.InnerException ?? deferred).ConfigureAwait(false);
                }

                return;
            }
            catch (Exception ex) when (!RequeueSignal.IsRequeue(ex, context.CancellationToken))
            {
                tries++;
                var disposition = classifier.Classify(ex);
                if (disposition == FailureDisposition.Retry && tries <= settings.Options.ImmediateRetries)
                {
                    RedeliveryLog.ImmediateRetry(settings.Logger, tries, context.MessageId, QueueName(context), ex.GetType().Name);
                    WorkersDiagnostics.AddEvent(RedeliveryDiagnostics.ImmediateRetryEvent, new("retry", tries), new("exception.type", ex.GetType().FullName));
                    if (settings.Options.ImmediateRetryDelay > TimeSpan.Zero)
                    {
                        await Task.Delay(settings.Options.ImmediateRetryDelay, settings.Time, context.CancellationToken).ConfigureAwait(false);
                    }

                    continue;
                }

                await HandleFailureAsync(context, ex, disposition, tries).ConfigureAwait(false);

                // Handled: a redelivery copy or a dead letter is confirmed by the broker. When the failure came before any
                // consumer ran (inbox, breaker, bulkhead, timeout), MassTransit would otherwise see a message neither
                // consumed nor faulted and ALSO move it to <queue>_skipped: mark it faulted, as a consumer fault would.
                if (!context.ReceiveContext.IsDelivered && !context.ReceiveContext.IsFaulted)
                {
                    await context.ReceiveContext.NotifyFaulted(ex).ConfigureAwait(false);
                }

                return;
            }
        }
    }

    private async Task HandleFailureAsync(TContext context, Exception exception, FailureDisposition disposition, int tries)
    {
        if (!context.ReceiveContext.TryGetPayload<RabbitMqBasicConsumeContext>(out var rabbit))
        {
            RedeliveryLog.NotRabbitMq(settings.Logger, context.MessageId);
            ExceptionDispatchInfo.Capture(exception).Throw();
            return;
        }

        var queue = QueueName(context);
        var consumerName = settings.Consumer ?? queue;
        var redeliveries = TrustedRedeliveryCount(context, rabbit, settings.Options.MaxRedeliveryAttempts);
        var holdKey = context.MessageId?.ToString() ?? rabbit.Properties.MessageId;
        var held = holdKey is null ? 0 : holds.GetValueOrDefault(holdKey);
        var now = settings.Time.GetUtcNow();
        var firstFailure = ReadTime(context.ReceiveContext.TransportHeaders, WorkersHeaders.FirstFailure) ?? now;
        var body = context.ReceiveContext.Body.GetBytes();
        var properties = Copy(rabbit.Properties);
        var headers = properties.Headers!;

        // The publish's own budget starts when the publish does (after any fallback), on the injected clock.
        CancellationTokenSource? timeout = null;
        var stage = "redelivery";
        try
        {
            if (held >= RedeliveryConstants.MaxBrokerUnavailableHolds)
            {
                RedeliveryLog.HoldLimitReached(settings.Logger, context.MessageId, queue, held);
                WorkersDiagnostics.AddEvent(RedeliveryDiagnostics.HoldLimitEvent, new("queue", queue), new("holds", held));
            }

            if (disposition == FailureDisposition.Retry && redeliveries < settings.Options.MaxRedeliveryAttempts && held < RedeliveryConstants.MaxBrokerUnavailableHolds)
            {
                var redelivery = redeliveries + 1;
                var delay = RedeliveryDelayCalculator.GetDelay(settings.Options, redelivery, Random.Shared.NextDouble());
                StampLadderHeaders(headers, redelivery, firstFailure, queue);
                timeout = new CancellationTokenSource(BrokerClient.PublishTimeout, settings.Time);
                try
                {
                    await transport.PublishDelayedAsync(queue, delay, body, properties, timeout.Token).ConfigureAwait(false);
                }
                catch (Exception refused) when (!IsTransportFailure(refused))
                {
                    // The broker refused the copy itself (not an outage): holding the message would repeat this forever.
                    RedeliveryLog.RedeliveryRefused(settings.Logger, refused, context.MessageId, queue);
                    headers.Remove(WorkersHeaders.Destination);
                    headers[WorkersHeaders.RedeliveryCount] = redeliveries;
                    timeout.Dispose();
                    timeout = null;
                    await DeadLetterAsync(context, exception, DeadLetterConstants.ReasonRedeliveryRefused, tries, redeliveries, queue, consumerName, firstFailure, now, body, properties).ConfigureAwait(false);
                    Forget(holdKey);
                    return;
                }

                Forget(holdKey);
                RedeliveryDiagnostics.Scheduled.Add(1, new KeyValuePair<string, object?>("queue", queue), new KeyValuePair<string, object?>("consumer", consumerName));
                RedeliveryLog.Scheduled(settings.Logger, redelivery, context.MessageId, queue, delay, exception.GetType().Name);
                WorkersDiagnostics.AddEvent(
                    RedeliveryDiagnostics.ScheduledEvent,
                    new("queue", queue),
                    new("redelivery", redelivery),
                    new("delay_ms", DelayLadder.Effective(delay).TotalMilliseconds),
                    new("exception.type", exception.GetType().FullName));
                return;
            }

            var reason = disposition != FailureDisposition.Retry ? DeadLetterConstants.ReasonPermanent
                : redeliveries < settings.Options.MaxRedeliveryAttempts ? DeadLetterConstants.ReasonBrokerUnavailable
                : DeadLetterConstants.ReasonExhausted;
            stage = "dead letter";
            await DeadLetterAsync(context, exception, reason, tries, redeliveries, queue, consumerName, firstFailure, now, body, properties).ConfigureAwait(false);
            Forget(holdKey);
        }
        catch (Exception failure) when (failure is not OperationCanceledException || (timeout?.IsCancellationRequested ?? false) || !context.CancellationToken.IsCancellationRequested)
        {
            // Only a transport failure (connection or channel down, confirm timeout) should end here; anything else that
            // still does (the dead letter itself refused) is held too, but loudly, and counted towards the bound.
            var count = holdKey is null ? 0 : holds.AddOrUpdate(holdKey, 1, (_, n) => n + 1);
            if (holds.Count > MaxTrackedHolds)
            {
                holds.Clear();
            }

            if (IsTransportFailure(failure))
            {
                RedeliveryLog.TransportFailed(settings.Logger, failure, context.MessageId, queue);
            }
            else
            {
                RedeliveryLog.HeldAfterRefusal(settings.Logger, failure, context.MessageId, queue, stage, count);
            }

            WorkersDiagnostics.AddEvent(RedeliveryDiagnostics.HeldEvent, new("queue", queue), new("holds", count), new("exception.type", failure.GetType().FullName));
            RedeliveryDiagnostics.Held.Add(1, new KeyValuePair<string, object?>("queue", queue), new KeyValuePair<string, object?>("consumer", consumerName));
            try
            {
                await Task.Delay(RequeuePause, settings.Time, context.CancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopping: requeue at once.
            }

            throw new RedeliveryUnavailableException($"The broker did not take the redelivery of message {context.MessageId} on queue {queue}; it returns to the queue.", failure);
        }
        finally
        {
            timeout?.Dispose();
        }
    }

    // A half-open probe that failed again, or bulkhead overflow moved to the back: a byte-exact copy back through the delay
    // ladder with its redelivery count unchanged (no attempt counted), confirmed before the original is acked. When the copy cannot be published, the message goes back to its
    // queue untouched instead (the deferral exception is an OperationCanceledException: the transport requeues it).
    private async Task DeferAsync(TContext context, DeferredDeliveryException deferred)
    {
        if (!context.ReceiveContext.TryGetPayload<RabbitMqBasicConsumeContext>(out var rabbit))
        {
            ExceptionDispatchInfo.Capture(deferred).Throw();
            return;
        }

        var queue = QueueName(context);
        var redeliveries = TrustedRedeliveryCount(context, rabbit, settings.Options.MaxRedeliveryAttempts);
        var properties = Copy(rabbit.Properties);
        var headers = properties.Headers!;
        // A deferred probe failed: it carries its first failure like a redelivery. A bulkhead move of a message that
        // never failed keeps what it had, so that its first real failure still counts as fresh evidence.
        var firstFailure = deferred.InnerException is null ? (DateTimeOffset?)null
            : ReadTime(context.ReceiveContext.TransportHeaders, WorkersHeaders.FirstFailure) ?? settings.Time.GetUtcNow();
        StampLadderHeaders(headers, redeliveries, firstFailure, queue);
        using var timeout = new CancellationTokenSource(BrokerClient.PublishTimeout, settings.Time);
        try
        {
            await transport.PublishDelayedAsync(queue, deferred.Delay, context.ReceiveContext.Body.GetBytes(), properties, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception failure) when (failure is not OperationCanceledException || timeout.IsCancellationRequested || !context.CancellationToken.IsCancellationRequested)
        {
            RedeliveryLog.TransportFailed(settings.Logger, failure, context.MessageId, queue);
            ExceptionDispatchInfo.Capture(deferred).Throw();
        }

        RedeliveryLog.Deferred(settings.Logger, context.MessageId, queue, DelayLadder.Effective(deferred.Delay), redeliveries, deferred.Reason);
        WorkersDiagnostics.AddEvent(RedeliveryDiagnostics.DeferredEvent, new("queue", queue), new("delay_ms", DelayLadder.Effective(deferred.Delay).TotalMilliseconds), new("redelivery", redeliveries), new("reason", deferred.Reason));
    }

    // The headers of a copy going back through the delay ladder (a redelivery or a deferral): its trusted redelivery
    // count, its first failure when it has one, and the queue the ladder's last step delivers it to.
    private static void StampLadderHeaders(IDictionary<string, object?> headers, int redeliveryCount, DateTimeOffset? firstFailure, string queue)
    {
        headers[WorkersHeaders.RedeliveryCount] = redeliveryCount;
        if (firstFailure is { } first)
        {
            headers[WorkersHeaders.FirstFailure] = FaultHeaders.FormatTime(first);
        }

        headers[WorkersHeaders.Destination] = queue;
    }

    // The dead-letter stage's writer: the fallback, then a byte-exact copy with fault headers to <queue>_error.
    private Task DeadLetterAsync(TContext context, Exception exception, string reason, int tries, int redeliveries, string queue, string consumerName, DateTimeOffset firstFailure, DateTimeOffset now, byte[] body, BasicProperties properties) =>
        deadLetters.WriteAsync(context, exception, reason, (redeliveries * (settings.Options.ImmediateRetries + 1)) + tries, queue, consumerName, firstFailure, now, body, properties);

    private static BasicProperties Copy(IReadOnlyBasicProperties source)
    {
        var copy = new BasicProperties(source)
        {
            Persistent = true,
            Expiration = null,

            // The broker checks user_id against the publishing connection's user (406 PRECONDITION_FAILED otherwise,
            // which also closes the channel): the copy is published by the framework's connection, never the producer's.
            UserId = null,
        };
        var headers = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (source.Headers is not null)
        {
            foreach (var (key, value) in source.Headers)
            {
                if (!FaultHeaders.IsTransient(key))
                {
                    headers[key] = value;
                }
            }
        }

        copy.Headers = headers;
        return copy;
    }

    // Transport failures only: the connection or channel is down, or the broker did not confirm in time. A broker's
    // refusal of this one message (403, 404, 406 on the channel, a return, a bad argument) is not an outage.
    internal static bool IsTransportFailure(Exception exception) => exception switch
    {
        OperationCanceledException => true, // a confirm timeout (a stop is not caught at all)
        AlreadyClosedException closed => closed.ShutdownReason?.ReplyCode is not (403 or 404 or 406) || closed.ShutdownReason.Initiator != ShutdownInitiator.Peer,
        OperationInterruptedException interrupted => interrupted.ShutdownReason?.ReplyCode is not (403 or 404 or 406),
        BrokerUnreachableException or ConnectFailureException or IOException or SocketException or TimeoutException => true,
        RabbitMQ.Client.Exceptions.PublishException published => !published.IsReturn,
        _ => exception.InnerException is { } inner && exception is not PublishReturnException && IsTransportFailure(inner),
    };

    // The redelivery count is Workers' own state: trusted only on a message the delay ladder handed back (delivered
    // through one of its exchanges, workers.delay.*), and then clamped to [0, MaxRedeliveryAttempts]. On any other delivery a count set by the
    // producer (forged, copied, "-1", "1000") is ignored: the message starts at 0.
    internal static int TrustedRedeliveryCount(ConsumeContext context, RabbitMqBasicConsumeContext rabbit, int maxRedeliveryAttempts)
    {
        if (rabbit.Exchange is null || !rabbit.Exchange.StartsWith(DelayLadder.Prefix + ".", StringComparison.Ordinal))
        {
            return 0;
        }

        return Math.Clamp(ReadInt(context.ReceiveContext.TransportHeaders, WorkersHeaders.RedeliveryCount), 0, maxRedeliveryAttempts);
    }

    private void Forget(string? holdKey)
    {
        if (holdKey is not null)
        {
            holds.TryRemove(holdKey, out _);
        }
    }

    internal static string QueueName(ConsumeContext context)
    {
        var address = context.ReceiveContext.InputAddress;
        var path = address.AbsolutePath.TrimEnd('/');
        return Uri.UnescapeDataString(path[(path.LastIndexOf('/') + 1)..]);
    }

    internal static int ReadInt(MassTransit.Headers headers, string key)
    {
        if (!headers.TryGetHeader(key, out var value))
        {
            return 0;
        }

        return value switch
        {
            int i => i,
            long l => (int)Math.Clamp(l, 0, int.MaxValue),
            short s => s,
            byte b => b,
            byte[] bytes when int.TryParse(Encoding.UTF8.GetString(bytes), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) => parsed,
            string text when int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) => parsed,
            _ => 0,
        };
    }

    internal static DateTimeOffset? ReadTime(MassTransit.Headers headers, string key)
    {
        if (!headers.TryGetHeader(key, out var value))
        {
            return null;
        }

        var text = value switch
        {
            byte[] bytes => Encoding.UTF8.GetString(bytes),
            string s => s,
            _ => null,
        };
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed) ? parsed : null;
    }
}
