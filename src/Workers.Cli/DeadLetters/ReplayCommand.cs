using System.CommandLine;
using System.Globalization;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Workers.Cli.Broker;
using Workers.Cli.Output;
using Workers.Resilience;

namespace Workers.Cli.DeadLetters;

/// <summary>
/// <c>workers dlq replay</c>: moves matched dead letters back to their endpoint, streaming the dead-letter queue in
/// bounded batches (<see cref="DeadLetterLap"/>): each message is republished with a publisher confirm BEFORE it is
/// acknowledged (removed) in the dead-letter queue; the others are kept in place. A crash at any point leaves a
/// message in the dead-letter queue, in the target queue, or (at worst, the ones in flight) in both — a duplicate the
/// inbox absorbs, since the original message id is kept.
/// <para>Trusted target: the queue replayed into is <c>--to</c> (typed by the operator) or the dead-letter queue's
/// endpoint (its name minus <c>_error</c>/<c>_skipped</c>), never a fault header: a producer can set
/// <c>Workers-Fault-*</c> headers on a message that MassTransit then dead-letters itself, carrying them along.</para>
/// </summary>
internal static class ReplayCommand
{
    public static readonly TimeSpan DefaultCanaryWait = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan CanaryPollInterval = TimeSpan.FromMilliseconds(200);

    public static Command Create(CliConsole console, ConnectionSettings connections)
    {
        var queue = DeadLetterCommands.QueueArgument();
        var filters = new DeadLetterFilter.Options();
        var max = new Option<int?>("--max") { Description = "Replay at most N of the matched messages (from the head of the queue)." };
        var rate = new Option<string?>("--rate") { Description = "Replay at most R messages per second (50, 50/s, 300/m)." };
        var canary = new Option<int?>("--canary") { Description = "Replay K messages first and stop if any of them fails again within --canary-wait." };
        var canaryWait = new Option<double?>("--canary-wait") { Description = $"Seconds to watch the canaries (default {DefaultCanaryWait.TotalSeconds})." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show what would be replayed, change nothing." };
        var to = new Option<string?>("--to") { Description = "Replay into this queue instead of the dead-letter queue's endpoint (<queue>)." };
        var batch = DeadLetterCommands.BatchOption();
        var command = new Command("replay", "Move matched dead letters back to their endpoint (confirmed publish, then removal).")
        {
            queue, max, rate, canary, canaryWait, dryRun, to, batch,
        };
        filters.AddTo(command);
        var retention = new ReplayRetention.Options();
        retention.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new ReplayRequest(
                QueueNames.ErrorQueueOf(parse.GetValue(queue)!),
                filters.Create(parse, console.Time),
                parse.GetValue(max),
                Pacer.ParseRate(parse.GetValue(rate), "--rate"),
                parse.GetValue(canary),
                parse.GetValue(canaryWait) is { } seconds ? TimeSpan.FromSeconds(seconds) : DefaultCanaryWait,
                parse.GetValue(dryRun),
                parse.GetValue(to))
            {
                Retention = retention.Create(parse),
                Batch = DeadLetterCommands.GetBatch(parse, batch),
            };
            request.Validate();
            await using var broker = await BrokerClient.ConnectAsync(connections.GetRabbitMqUri(parse, console), cancellationToken);
            return await RunAsync(console, broker, request, cancellationToken);
        });
        return command;
    }

    /// <summary>The queue a replay goes into: <c>--to</c>, else the dead-letter queue's endpoint. Never a header.</summary>
    internal static string TrustedTarget(string deadLetterQueue, string? to) => to ?? QueueNames.EndpointOf(deadLetterQueue);

    /// <summary>The queue a message's fault headers name when it is not the trusted target (ignored, warned about), else null.</summary>
    internal static string? DisagreeingHeaderQueue(DeadLetterMessage message, string target) =>
        message.SourceQueue is { } named && !string.Equals(named, target, StringComparison.Ordinal) ? named : null;

    internal static async Task<int> RunAsync(CliConsole console, BrokerClient broker, ReplayRequest request, CancellationToken cancellationToken)
    {
        var target = TrustedTarget(request.Queue, request.To);
        if (request.To is { } explicitTarget && await broker.InspectQueueAsync(explicitTarget, cancellationToken) is null)
        {
            throw new CliException($"replay target queue '{explicitTarget}' does not exist in vhost '{broker.VirtualHost}'; nothing was replayed.");
        }

        var run = new ReplayRun(console, request, target, Guid.NewGuid().ToString("N"));
        await using (var lap = await DeadLetterLap.StartAsync(broker, request.Queue, request.Batch, cancellationToken))
        {
            if (request.To is null && lap.TotalAtStart > 0 && await broker.InspectQueueAsync(target, cancellationToken) is null)
            {
                throw new CliException($"replay target queue '{target}' (the endpoint of '{request.Queue}') does not exist in vhost '{broker.VirtualHost}'; nothing was replayed (choose a queue with --to).");
            }

            await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"replay {run.ReplayId}: {lap.TotalAtStart} message(s) in '{request.Queue}', target '{target}'{(request.DryRun ? " (dry run)" : string.Empty)}."));
            await DeadLetterCommands.WarnAboutConsumersAsync(console, lap);
            var canaryCap = request.DryRun ? null : request.Canary;
            await run.RunLapAsync(lap, canaryCap, cancellationToken);
            run.ExpectedAfterCanaries = lap.TotalAtStart - run.Replayed;
        }

        if (run.Stopped is null && run.CanariesPending)
        {
            var failedAgain = await WatchCanariesAsync(console, broker, run, cancellationToken);
            if (failedAgain is not null)
            {
                run.Stopped = $"canary message {TerminalText.Neutralise(failedAgain.MessageId)} failed again ({TerminalText.Neutralise(DeadLetterCommands.Describe(failedAgain))})";
            }
            else
            {
                await console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"canary: {run.CanaryIds.Count} message(s) did not fail within {request.CanaryWait.TotalSeconds:0.#} s; replaying the rest."));
                await using var rest = await DeadLetterLap.StartAsync(broker, request.Queue, request.Batch, cancellationToken);
                await run.RunLapAsync(rest, canaryCap: null, cancellationToken);
            }
        }

        await run.WarnAboutIgnoredHeadersAsync();
        var retentionRefusal = await run.Retention.WarnAsync(console, request.Queue, request.DryRun);
        if (request.DryRun)
        {
            await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"dry run: matched {run.Matched + run.Retention.Kept}, would replay {run.Matched}, skipped {run.Skipped}{KeptNote(run, "would keep")}; nothing was changed."));
            return ExitCodes.Ok;
        }

        await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"replay {run.ReplayId} summary: matched {run.Matched + run.Retention.Kept}, replayed {run.Replayed}, skipped {run.Skipped}, failed {run.Failed}{KeptNote(run, "kept")}{(run.Stopped is null ? string.Empty : "; stopped: " + run.Stopped)}."));
        if (run.Stopped is not null)
        {
            throw new CliException($"replay {run.ReplayId} stopped: {run.Stopped}; the messages not replayed are still in '{request.Queue}'.");
        }

        if (retentionRefusal is not null)
        {
            throw new CliException(retentionRefusal);
        }

        return run.Failed == 0 ? ExitCodes.Ok : ExitCodes.Failure;
    }

    private static string KeptNote(ReplayRun run, string verb) => run.Retention.Kept == 0
        ? string.Empty
        : string.Create(CultureInfo.InvariantCulture, $", {verb} {run.Retention.Kept} beyond the inbox retention");

    /// <summary>
    /// Watches the dead-letter queue for a canary that comes back with this run's replay id. A copy that fails again
    /// lands at the tail, behind every message still in the queue: while the ready count stays where the replay
    /// left it nothing came back; when it grows, one lap over the queue (each message kept in place) looks for the canaries.
    /// </summary>
    private static async Task<DeadLetterMessage?> WatchCanariesAsync(CliConsole console, BrokerClient broker, ReplayRun run, CancellationToken cancellationToken)
    {
        var request = run.Request;
        await console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"canary: watching {run.CanaryIds.Count} message(s) for {request.CanaryWait.TotalSeconds:0.#} s..."));
        var expected = run.ExpectedAfterCanaries;
        var started = console.Time.GetTimestamp();
        while (console.Time.GetElapsedTime(started) < request.CanaryWait)
        {
            var state = await broker.RequireQueueAsync(request.Queue, cancellationToken);
            if (state.MessageCount <= expected)
            {
                await Task.Delay(CanaryPollInterval, console.Time, cancellationToken);
                continue;
            }

            await using var lap = await DeadLetterLap.StartAsync(broker, request.Queue, request.Batch, cancellationToken);
            IReadOnlyList<DeadLetterMessage> messages;
            while ((messages = await lap.NextBatchAsync(cancellationToken)).Count > 0)
            {
                var back = messages.FirstOrDefault(m => m.ReplayId == run.ReplayId && m.MessageId is not null && run.CanaryIds.Contains(m.MessageId));
                await DeadLetterCommands.KeepAllAsync(lap, messages, cancellationToken);
                if (back is not null)
                {
                    return back;
                }
            }

            expected = lap.TotalAtStart;
        }

        return null;
    }

    /// <summary>The replayed message's properties: fault headers and the attempt counter stripped, replay headers added, message id kept.</summary>
    internal static BasicProperties CreateReplayProperties(DeadLetterMessage message, string replayId, DateTimeOffset now)
    {
        var headers = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in message.Headers)
        {
            if (!WorkersHeaders.FaultHeaderPrefixes.Any(prefix => key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                && key != WorkersHeaders.ReplayId && key != WorkersHeaders.ReplayedAt && key != DeadLetterLap.DeliveryCountHeader)
            {
                headers[key] = value;
            }
        }

        headers[WorkersHeaders.ReplayId] = replayId;
        headers[WorkersHeaders.ReplayedAt] = now.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
        var original = message.Properties;
        var properties = new BasicProperties
        {
            MessageId = message.MessageId,
            ContentType = original.ContentType,
            ContentEncoding = original.ContentEncoding,
            CorrelationId = original.CorrelationId,
            ReplyTo = original.ReplyTo,
            Type = original.Type,
            AppId = original.AppId,
            DeliveryMode = DeliveryModes.Persistent,
            Headers = headers,
        };
        if (original.IsPriorityPresent())
        {
            properties.Priority = original.Priority;
        }

        if (original.IsTimestampPresent())
        {
            properties.Timestamp = original.Timestamp;
        }

        return properties;
    }
}

/// <summary>What a replay run was asked to do.</summary>
internal sealed record ReplayRequest(string Queue, DeadLetterFilter Filter, int? Max, double? Rate, int? Canary, TimeSpan CanaryWait, bool DryRun, string? To)
{
    /// <summary>The inbox retention the matched dead letters are checked against (<see cref="ReplayRetention"/>).</summary>
    public ReplayRetentionPolicy Retention { get; init; } = ReplayRetentionPolicy.Default;

    /// <summary>Messages read and held at once (<c>--batch</c>).</summary>
    public int Batch { get; init; } = DeadLetterLap.DefaultBatchSize;

    public void Validate()
    {
        if (Max is < 1)
        {
            throw CliException.Usage("--max must be at least 1.");
        }

        if (Canary is < 1)
        {
            throw CliException.Usage("--canary must be at least 1.");
        }

        if (Canary is { } canary && Max is { } max && canary > max)
        {
            throw CliException.Usage("conflicting options: --canary is larger than --max.");
        }

        if (CanaryWait <= TimeSpan.Zero)
        {
            throw CliException.Usage("--canary-wait must be positive.");
        }

        if (To is not null && QueueNames.IsDeadLetterQueue(To))
        {
            throw CliException.Usage($"--to '{To}' is a dead-letter queue; a replay never targets _error or _skipped queues.");
        }

        if (To is not null && string.IsNullOrWhiteSpace(To))
        {
            throw CliException.Usage("--to must not be empty.");
        }
    }
}
