using System.CommandLine;
using System.Globalization;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Workers.Cli.Broker;
using Workers.Cli.Output;
using Workers.Resilience;

namespace Workers.Cli.DeadLetters;

/// <summary>
/// <c>workers dlq replay</c>: moves matched dead letters back to their queue. Each message is republished with a
/// publisher confirm BEFORE it is acknowledged (removed) in the dead-letter queue: a crash at any point leaves
/// it in the dead-letter queue, in the target queue, or (at worst) in both — a duplicate the inbox absorbs,
/// since the original message id is kept.
/// </summary>
internal static class ReplayCommand
{
    public static readonly TimeSpan DefaultCanaryWait = TimeSpan.FromSeconds(30);
    /// <summary>Set by quorum queues on each delivery; an artefact of the dead-letter queue, not of the message.</summary>
    private const string DeliveryCountHeader = "x-delivery-count";

    /// <summary>Publishes awaiting their confirms at once (without --rate); each dead letter is still removed only after its own confirm.</summary>
    private const int ConfirmWindow = 100;

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
        var to = new Option<string?>("--to") { Description = "Replay into this queue instead of the one named in the fault headers." };
        var command = new Command("replay", "Move matched dead letters back to their queue (confirmed publish, then removal).")
        {
            queue, max, rate, canary, canaryWait, dryRun, to,
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
            };
            request.Validate();
            await using var broker = await BrokerClient.ConnectAsync(connections.GetRabbitMqUri(parse, console), cancellationToken);
            return await RunAsync(console, broker, request, cancellationToken);
        });
        return command;
    }

    internal static async Task<int> RunAsync(CliConsole console, BrokerClient broker, ReplayRequest request, CancellationToken cancellationToken)
    {
        if (request.To is { } explicitTarget && await broker.InspectQueueAsync(explicitTarget, cancellationToken) is null)
        {
            throw new CliException($"replay target queue '{explicitTarget}' does not exist in vhost '{broker.VirtualHost}'; nothing was replayed.");
        }

        await using var snapshot = await DeadLetterSnapshot.TakeAsync(broker, request.Queue, limit: null, console.Time, cancellationToken);
        var replayId = Guid.NewGuid().ToString("N");
        var matched = snapshot.Messages.Where(request.Filter.Matches).Take(request.Max ?? int.MaxValue).ToList();
        var plan = new List<(DeadLetterMessage Message, string Target)>();
        var skipped = new List<(DeadLetterMessage Message, string Reason)>();
        foreach (var message in matched)
        {
            var target = request.To ?? message.SourceQueue;
            if (target is null)
            {
                skipped.Add((message, "no fault queue header (Workers-Fault-Queue or MT-Fault-InputAddress); use --to"));
            }
            else if (QueueNames.IsDeadLetterQueue(target))
            {
                skipped.Add((message, $"target '{target}' is a dead-letter queue"));
            }
            else
            {
                plan.Add((message, target));
            }
        }

        foreach (var target in plan.Select(p => p.Target).Distinct(StringComparer.Ordinal))
        {
            if (await broker.InspectQueueAsync(target, cancellationToken) is null)
            {
                throw new CliException($"replay target queue '{target}' (from the fault headers of {plan.Count(p => p.Target == target)} message(s)) does not exist in vhost '{broker.VirtualHost}'; nothing was replayed.");
            }
        }

        await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"replay {replayId}: {matched.Count} of {snapshot.Messages.Count} message(s) in '{request.Queue}' match; {plan.Count} to replay, {skipped.Count} skipped."));
        foreach (var (message, reason) in skipped)
        {
            await console.Out.WriteLineAsync($"  skip {TerminalText.Neutralise(message.MessageId ?? "?")}: {TerminalText.Neutralise(reason)}");
        }

        await DeadLetterCommands.WarnAboutSnapshotAsync(console, snapshot);
        if (await ReplayRetention.WarnAsync(console, plan.Select(p => p.Message), request.Retention, request.DryRun) is { } refusal)
        {
            await DeadLetterCommands.ReleaseAsync(console, snapshot, cancellationToken);
            throw new CliException(refusal);
        }

        if (request.DryRun)
        {
            foreach (var (message, target) in plan)
            {
                await console.Out.WriteLineAsync($"  would replay {TerminalText.Neutralise(message.MessageId ?? "?")} ({TerminalText.Neutralise(message.DisplayType)}) -> '{TerminalText.Neutralise(target)}'");
            }

            await DeadLetterCommands.ReleaseAsync(console, snapshot, cancellationToken);
            await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"dry run: matched {matched.Count}, would replay {plan.Count}, skipped {skipped.Count}; nothing was changed."));
            return ExitCodes.Ok;
        }

        var outcome = await ReplayAsync(console, broker, snapshot, plan, replayId, request, cancellationToken);
        await DeadLetterCommands.ReleaseAsync(console, snapshot, cancellationToken);
        await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"replay {replayId} summary: matched {matched.Count}, replayed {outcome.Replayed}, skipped {skipped.Count}, failed {outcome.Failed}{(outcome.Stopped is null ? string.Empty : "; stopped: " + outcome.Stopped)}."));
        if (outcome.Stopped is not null)
        {
            throw new CliException($"replay {replayId} stopped: {outcome.Stopped}; {plan.Count - outcome.Replayed} message(s) left in '{request.Queue}'.");
        }

        return outcome.Failed == 0 ? ExitCodes.Ok : ExitCodes.Failure;
    }

    private static async Task<(int Replayed, int Failed, string? Stopped)> ReplayAsync(
        CliConsole console, BrokerClient broker, DeadLetterSnapshot snapshot, List<(DeadLetterMessage Message, string Target)> plan, string replayId, ReplayRequest request, CancellationToken cancellationToken)
    {
        var channel = await broker.OpenConfirmedChannelAsync(cancellationToken);
        var progress = new ProgressReporter(console, "replayed", plan.Count);
        var pacer = new Pacer(request.Rate, console.Time);
        var window = request.Rate is null ? ConfirmWindow : 1;
        var batch = new List<(DeadLetterMessage Message, string Target, Task Confirmed)>(window);
        int replayed = 0, failed = 0;
        try
        {
            for (var i = 0; i < plan.Count; i++)
            {
                var (message, target) = plan[i];
                await pacer.WaitAsync(cancellationToken);
                var properties = CreateReplayProperties(message, replayId, console.Time.GetUtcNow());

                // mandatory: a message the broker cannot route is a failure, not a silent drop.
                batch.Add((message, target, channel.BasicPublishAsync(string.Empty, target, mandatory: true, properties, message.Body, cancellationToken).AsTask()));
                var canaryDone = request.Canary is { } k && i + 1 == k;
                if (batch.Count < window && !canaryDone && i < plan.Count - 1)
                {
                    continue;
                }

                // Each dead letter is removed only after the broker confirmed its copy; a failed one stays.
                string? stopped = null;
                foreach (var (pending, pendingTarget, confirmed) in batch)
                {
                    try
                    {
                        await confirmed;
                    }
                    catch (PublishException exception)
                    {
                        failed++;
                        stopped ??= exception.IsReturn ? $"'{pendingTarget}' could not be routed to" : $"the broker refused the message for '{pendingTarget}'";
                        continue;
                    }

                    await snapshot.RemoveAsync(pending, cancellationToken);
                    replayed++;
                }

                batch.Clear();
                progress.Report(replayed);
                if (stopped is not null)
                {
                    progress.Complete();
                    return (replayed, failed, stopped);
                }

                if (canaryDone && i < plan.Count - 1)
                {
                    progress.Complete();
                    var canaryIds = plan.Take(i + 1).Select(p => p.Message.MessageId).OfType<string>().ToHashSet(StringComparer.OrdinalIgnoreCase);
                    var failedAgain = await WatchCanariesAsync(console, snapshot, replayId, canaryIds, request.CanaryWait, cancellationToken);
                    if (failedAgain is not null)
                    {
                        return (replayed, failed, $"canary message {failedAgain.MessageId} failed again ({DeadLetterCommands.Describe(failedAgain)})");
                    }

                    await console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"canary: {i + 1} message(s) did not fail within {request.CanaryWait.TotalSeconds:0.#} s; replaying the rest."));
                }
            }
        }
        finally
        {
            await BrokerClient.CloseQuietlyAsync(channel);
        }

        progress.Complete();
        return (replayed, failed, null);
    }

    /// <summary>Watches the dead-letter queue's tail for a canary that comes back with this replay's id.</summary>
    private static async Task<DeadLetterMessage?> WatchCanariesAsync(CliConsole console, DeadLetterSnapshot snapshot, string replayId, HashSet<string> canaryIds, TimeSpan wait, CancellationToken cancellationToken)
    {
        await console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"canary: watching {canaryIds.Count} message(s) for {wait.TotalSeconds:0.#} s..."));
        var started = console.Time.GetTimestamp();
        while (console.Time.GetElapsedTime(started) < wait)
        {
            var arrived = await snapshot.FetchNewAsync(cancellationToken);
            if (arrived is null)
            {
                await Task.Delay(CanaryPollInterval, console.Time, cancellationToken);
                continue;
            }

            if (arrived.ReplayId == replayId && arrived.MessageId is not null && canaryIds.Contains(arrived.MessageId))
            {
                return arrived;
            }
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
                && key != WorkersHeaders.ReplayId && key != WorkersHeaders.ReplayedAt && key != DeliveryCountHeader)
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
