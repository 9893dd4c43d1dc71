using System.CommandLine;
using System.Globalization;
using Workers.Cli.Output;

namespace Workers.Cli.DeadLetters;

/// <summary>
/// <c>dlq replay</c> against the inbox retention: a dead letter that first failed longer ago than
/// <c>Workers:Inbox:Retention</c> may have lost its inbox row, so if a copy of it was in fact processed (a commit
/// reported as failed, a re-published outbox row), replaying it runs the consumer a second time. Such a replay is
/// not made: the replay streams the queue, so such a dead letter is kept in place (not replayed, counted, warned
/// about) and the run ends with a failure naming it, unless <c>--allow-beyond-retention</c>; a dry run says which it would keep. The CLI cannot read the workers' settings:
/// <c>--inbox-retention</c> tells it (default: the inbox's default, 7 days).
/// </summary>
internal static class ReplayRetention
{
    public static readonly TimeSpan DefaultRetention = new Workers.Postgres.InboxOptions().Retention;

    /// <summary>A duration: <c>7d</c>, <c>36h</c>, <c>90m</c>, <c>30s</c>, or a .NET time span (<c>7.00:00:00</c>); positive.</summary>
    public static TimeSpan ParseDuration(string text, string option)
    {
        ArgumentNullException.ThrowIfNull(text);
        TimeSpan? value = null;
        var trimmed = text.Trim();
        if (trimmed.Length >= 2 && char.IsAsciiLetter(trimmed[^1]) && double.TryParse(trimmed[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount))
        {
            value = char.ToLowerInvariant(trimmed[^1]) switch
            {
                's' => TimeSpan.FromSeconds(amount),
                'm' => TimeSpan.FromMinutes(amount),
                'h' => TimeSpan.FromHours(amount),
                'd' => TimeSpan.FromDays(amount),
                _ => null,
            };
        }
        else if (TimeSpan.TryParse(trimmed, CultureInfo.InvariantCulture, out var span))
        {
            value = span;
        }

        return value is { } positive && positive > TimeSpan.Zero
            ? positive
            : throw CliException.Usage($"{option} '{text}' must be a positive duration such as 7d, 36h or 7.00:00:00.");
    }

    /// <summary>The options of <c>dlq replay</c> for the retention check.</summary>
    internal sealed class Options
    {
        public Option<string?> InboxRetention { get; } = new("--inbox-retention")
        {
            Description = "The workers' Workers:Inbox:Retention (default 7d): dead letters that first failed longer ago are refused (7d, 36h, 7.00:00:00).",
        };

        public Option<bool> AllowBeyondRetention { get; } = new("--allow-beyond-retention")
        {
            Description = "Replay also dead letters older than the inbox retention (their duplicates are no longer absorbed by the inbox).",
        };

        public void AddTo(Command command)
        {
            command.Options.Add(InboxRetention);
            command.Options.Add(AllowBeyondRetention);
        }

        public ReplayRetentionPolicy Create(ParseResult parse) => new(
            parse.GetValue(InboxRetention) is { } text ? ParseDuration(text, "--inbox-retention") : DefaultRetention,
            parse.GetValue(AllowBeyondRetention));
    }
}

/// <summary>The retention the replay checks against, and whether older dead letters may be replayed anyway.</summary>
internal sealed record ReplayRetentionPolicy(TimeSpan Retention, bool AllowBeyondRetention)
{
    public static ReplayRetentionPolicy Default { get; } = new(ReplayRetention.DefaultRetention, AllowBeyondRetention: false);
}

/// <summary>
/// The ages of the matched dead letters of one lap against <c>now − retention</c>, in bounded memory: counts, the oldest,
/// and the first few beyond it by name. The first failure counts, not the last: the inbox row, if any, is as old as the first delivery.
/// </summary>
internal sealed class ReplayRetentionTally(ReplayRetentionPolicy policy, DateTimeOffset now)
{
    private const int ShownMax = 10;
    private readonly DateTimeOffset cutoff = now - policy.Retention;
    private readonly List<DeadLetterMessage> shown = [];

    /// <summary>Matched messages that first failed before the cutoff.</summary>
    public long Beyond { get; private set; }

    /// <summary>Matched messages that carry no failure time (their age is unknown; not refused).</summary>
    public long Unknown { get; private set; }

    public DateTimeOffset? Oldest { get; private set; }

    /// <summary>The first messages beyond the retention (at most 10).</summary>
    public IReadOnlyList<DeadLetterMessage> Shown => shown;

    /// <summary>Messages beyond the retention that the run keeps in place (none when they are allowed).</summary>
    public long Kept => policy.AllowBeyondRetention ? 0 : Beyond;

    /// <summary>Records one matched message; true when it first failed longer ago than the retention.</summary>
    public bool Observe(DeadLetterMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.FirstFailure is not { } first)
        {
            Unknown++;
            return false;
        }

        if (first >= cutoff)
        {
            return false;
        }

        Beyond++;
        Oldest = Oldest is { } oldest && oldest <= first ? oldest : first;
        if (shown.Count < ShownMax)
        {
            shown.Add(message);
        }

        return true;
    }

    /// <summary>Why the run fails, or null: it kept messages beyond the retention (not allowed, not a dry run).</summary>
    public string? Refusal(string queue, bool dryRun) => Kept == 0 || dryRun
        ? null
        : string.Create(CultureInfo.InvariantCulture, $"replay refused for {Kept} matched message(s) older than the inbox retention ({Format(policy.Retention)}): they were not replayed and are still in '{queue}'. ")
            + "Select newer ones (--since), pass the workers' real retention (--inbox-retention), or re-run with --allow-beyond-retention.";

    /// <summary>Warns about the messages beyond the retention (or of unknown age); returns the refusal, if any.</summary>
    public async Task<string?> WarnAsync(CliConsole console, string queue, bool dryRun)
    {
        ArgumentNullException.ThrowIfNull(console);
        if (Unknown > 0)
        {
            await console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"warning: {Unknown} message(s) carry no failure time (Workers-Fault-FirstFailure, MT-Fault-Timestamp): their age against the inbox retention is unknown."));
        }

        if (Beyond > 0)
        {
            var consequence = policy.AllowBeyondRetention ? "replayed anyway (--allow-beyond-retention)" : dryRun ? "a replay would keep them" : "kept, not replayed";
            await console.Error.WriteLineAsync(
                string.Create(CultureInfo.InvariantCulture, $"warning: {Beyond} message(s) first failed longer ago than the inbox retention ({Format(policy.Retention)}), the oldest at {DeadLetterCommands.Format(Oldest)}: ")
                + $"their inbox rows may be deleted, so a copy that was in fact processed would run its consumer again; {consequence}.");
            foreach (var message in shown)
            {
                await console.Error.WriteLineAsync($"  beyond retention: {TerminalText.Neutralise(message.MessageId ?? "?")} (first failure {DeadLetterCommands.Format(message.FirstFailure)})");
            }
        }

        return Refusal(queue, dryRun);
    }

    private static string Format(TimeSpan span) => span.ToString("c", CultureInfo.InvariantCulture);
}
