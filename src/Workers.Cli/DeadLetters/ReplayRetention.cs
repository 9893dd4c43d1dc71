using System.CommandLine;
using System.Globalization;
using Workers.Cli.Output;

namespace Workers.Cli.DeadLetters;

/// <summary>
/// <c>dlq replay</c> against the inbox retention: a dead letter that first failed longer ago than
/// <c>Workers:Inbox:Retention</c> may have lost its inbox row, so if a copy of it was in fact processed (a commit
/// reported as failed, a re-published outbox row), replaying it runs the consumer a second time. Such a replay is
/// refused (the whole run, before anything moves) unless <c>--allow-beyond-retention</c>; a dry run only warns. The CLI cannot read the workers' settings:
/// <c>--inbox-retention</c> tells it (default: the inbox's default, 7 days).
/// </summary>
internal static class ReplayRetention
{
    public static readonly TimeSpan DefaultRetention = new Workers.Postgres.InboxOptions().Retention;

    /// <summary>Which of <paramref name="messages"/> first failed before <c>now − retention</c>, and which carry no failure time.</summary>
    public static ReplayRetentionCheck Check(IEnumerable<DeadLetterMessage> messages, TimeSpan retention, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var cutoff = now - retention;
        var beyond = new List<DeadLetterMessage>();
        var unknown = new List<DeadLetterMessage>();
        foreach (var message in messages)
        {
            if (message.FirstFailure is not { } first)
            {
                unknown.Add(message);
            }
            else if (first < cutoff)
            {
                beyond.Add(message);
            }
        }

        return new ReplayRetentionCheck(retention, beyond, unknown);
    }

    /// <summary>Why the policy refuses this replay, or null: refused when a message is beyond the retention, unless allowed or a dry run.</summary>
    public static string? Refusal(ReplayRetentionCheck check, ReplayRetentionPolicy policy, bool dryRun)
    {
        ArgumentNullException.ThrowIfNull(check);
        ArgumentNullException.ThrowIfNull(policy);
        return check.Beyond.Count == 0 || policy.AllowBeyondRetention || dryRun
            ? null
            : string.Create(CultureInfo.InvariantCulture, $"replay refused: {check.Beyond.Count} matched message(s) are older than the inbox retention ({Format(check.Retention)}); nothing was replayed. ")
                + "Select newer ones (--since), pass the workers' real retention (--inbox-retention), or re-run with --allow-beyond-retention.";
    }

    /// <summary>Checks the messages about to be replayed, warns about those beyond the retention (or of unknown age); returns the refusal, if any.</summary>
    public static async Task<string?> WarnAsync(CliConsole console, IEnumerable<DeadLetterMessage> messages, ReplayRetentionPolicy policy, bool dryRun)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(policy);
        var check = Check(messages, policy.Retention, console.Time.GetUtcNow());
        if (check.Unknown.Count > 0)
        {
            await console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"warning: {check.Unknown.Count} message(s) carry no failure time (Workers-Fault-FirstFailure, MT-Fault-Timestamp): their age against the inbox retention is unknown."));
        }

        if (check.Beyond.Count > 0)
        {
            var oldest = check.Beyond.Min(m => m.FirstFailure!.Value);
            await console.Error.WriteLineAsync(
                string.Create(CultureInfo.InvariantCulture, $"warning: {check.Beyond.Count} message(s) first failed longer ago than the inbox retention ({Format(check.Retention)}), the oldest at {DeadLetterCommands.Format(oldest)}: ")
                + "their inbox rows may be deleted, so a copy that was in fact processed would run its consumer again.");
            foreach (var message in check.Beyond.Take(10))
            {
                await console.Error.WriteLineAsync($"  beyond retention: {TerminalText.Neutralise(message.MessageId ?? "?")} (first failure {DeadLetterCommands.Format(message.FirstFailure)})");
            }
        }

        return Refusal(check, policy, dryRun);
    }

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

    private static string Format(TimeSpan span) => span.ToString("c", CultureInfo.InvariantCulture);

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

/// <summary>The outcome of <see cref="ReplayRetention.Check"/>.</summary>
internal sealed record ReplayRetentionCheck(TimeSpan Retention, IReadOnlyList<DeadLetterMessage> Beyond, IReadOnlyList<DeadLetterMessage> Unknown);
