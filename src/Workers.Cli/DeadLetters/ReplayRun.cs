using System.Globalization;
using Workers.Cli.Broker;
using Workers.Cli.Output;

namespace Workers.Cli.DeadLetters;

/// <summary>The state of one <c>dlq replay</c> run across its laps: what matched, moved, failed, and the canaries.</summary>
internal sealed class ReplayRun(CliConsole console, ReplayRequest request, string target, string replayId)
{
    private const int IgnoredNamesShown = 5;
    private readonly Pacer pacer = new(request.Rate, console.Time);
    private readonly Dictionary<string, long> ignoredNames = new(StringComparer.Ordinal);
    private long ignored;
    private bool moreCandidates;

    public ReplayRequest Request => request;

    /// <summary>The matched messages' ages against the inbox retention (<see cref="ReplayRetention"/>), for the last lap.</summary>
    public ReplayRetentionTally Retention { get; private set; } = new(request.Retention, console.Time.GetUtcNow());

    public string ReplayId => replayId;

    public long Matched { get; private set; }

    public long Replayed { get; private set; }

    public long Failed { get; private set; }

    /// <summary>Matching messages left alone because this run already replayed them (they failed again and came back).</summary>
    public long Skipped { get; private set; }

    public string? Stopped { get; set; }

    /// <summary>The message ids of the canaries (at most <c>--canary</c>).</summary>
    public HashSet<string> CanaryIds { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The canaries went and more messages may match: watch them, then replay the rest.</summary>
    public bool CanariesPending { get; private set; }

    /// <summary>The dead-letter queue's ready count once the canaries went (more means something came back).</summary>
    public long ExpectedAfterCanaries { get; set; }

    /// <summary>
    /// One lap over the dead-letter queue: matching messages (up to <c>--max</c>, or up to <paramref name="canaryCap"/>
    /// in all, after which the lap stops) are moved to the target, everything else is kept in place.
    /// </summary>
    public async Task RunLapAsync(DeadLetterLap lap, int? canaryCap, CancellationToken cancellationToken)
    {
        var progress = new ProgressReporter(console, "examined", lap.TotalAtStart);
        var max = request.Max ?? long.MaxValue;
        var canaryReached = false;
        // Every lap sees every message still in the queue, the ones kept for their age among them: the last lap's tally is the run's.
        Retention = new ReplayRetentionTally(request.Retention, console.Time.GetUtcNow());
        IReadOnlyList<DeadLetterMessage> messages;
        while ((messages = await lap.NextBatchAsync(cancellationToken)).Count > 0)
        {
            var decisions = new List<Decision>(messages.Count);
            foreach (var message in messages)
            {
                if (!request.Filter.Matches(message))
                {
                    decisions.Add(Decision.Keep(message));
                }
                else if (message.ReplayId == replayId)
                {
                    Skipped++;
                    decisions.Add(Decision.Keep(message));
                }
                else if (canaryReached || Matched >= max)
                {
                    moreCandidates |= canaryReached;
                    decisions.Add(Decision.Keep(message));
                }
                else if (Retention.Observe(message) && !request.Retention.AllowBeyondRetention)
                {
                    // Older than the inbox retention: its inbox row may be gone, so a processed copy would run again. Kept, not replayed.
                    if (request.DryRun)
                    {
                        await console.Out.WriteLineAsync($"  would keep {TerminalText.Neutralise(message.MessageId ?? "?")}: first failed longer ago than the inbox retention");
                    }

                    decisions.Add(Decision.Keep(message));
                }
                else
                {
                    Matched++;
                    decisions.Add(await DecideAsync(message));
                    if (canaryCap is { } k)
                    {
                        if (message.MessageId is { } id)
                        {
                            CanaryIds.Add(id);
                        }

                        canaryReached = Matched >= k;
                    }
                }
            }

            var outcome = await lap.SettleAsync(decisions, pacer, oneMoveAtATime: request.Rate is not null, cancellationToken);
            Replayed += outcome.Moved;
            Failed += outcome.Failed;
            progress.Report(lap.Read);
            if (outcome.Failure is not null)
            {
                Stopped = outcome.Failure;
                break;
            }

            if (canaryReached)
            {
                moreCandidates |= lap.Read < lap.TotalAtStart;
                lap.Stop();
                break;
            }
        }

        progress.Complete();
        CanariesPending = canaryReached && moreCandidates && Matched < max;
    }

    public async Task WarnAboutIgnoredHeadersAsync()
    {
        if (ignored == 0)
        {
            return;
        }

        var names = string.Join(", ", ignoredNames.Select(n => string.Create(CultureInfo.InvariantCulture, $"'{TerminalText.Neutralise(n.Key)}' ×{n.Value}")));
        var more = ignoredNames.Count >= IgnoredNamesShown ? ", …" : string.Empty;
        await console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"warning: {ignored} message(s) name another queue in their fault headers ({names}{more}); ignored: the replay target is '{TerminalText.Neutralise(target)}', the endpoint of '{request.Queue}' (choose another queue with --to)."));
    }

    private async Task<Decision> DecideAsync(DeadLetterMessage message)
    {
        var named = request.To is null ? ReplayCommand.DisagreeingHeaderQueue(message, target) : null;
        if (named is not null)
        {
            ignored++;
            if (ignoredNames.ContainsKey(named) || ignoredNames.Count < IgnoredNamesShown)
            {
                ignoredNames[named] = ignoredNames.GetValueOrDefault(named) + 1;
            }
        }

        if (request.DryRun)
        {
            var note = named is null ? string.Empty : $" (fault headers name '{TerminalText.Neutralise(named)}': ignored)";
            await console.Out.WriteLineAsync($"  would replay {TerminalText.Neutralise(message.MessageId ?? "?")} ({TerminalText.Neutralise(message.DisplayType)}) -> '{TerminalText.Neutralise(target)}'{note}");
            return Decision.Keep(message);
        }

        return Decision.Move(message, target, ReplayCommand.CreateReplayProperties(message, replayId, console.Time.GetUtcNow()));
    }
}
