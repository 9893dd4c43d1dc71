using System.CommandLine;
using System.Globalization;
using Workers.Cli.Publish;

namespace Workers.Cli.DeadLetters;

/// <summary>Which dead letters a replay or purge acts on: every given criterion must hold (an empty filter matches all).</summary>
internal sealed class DeadLetterFilter
{
    public IReadOnlyList<string> TypeUrns { get; init; } = [];

    public IReadOnlyList<string> Exceptions { get; init; } = [];

    public IReadOnlySet<string> Ids { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    public DateTimeOffset? Since { get; init; }

    public DateTimeOffset? Until { get; init; }

    public bool IsEmpty => TypeUrns.Count == 0 && Exceptions.Count == 0 && Ids.Count == 0 && Since is null && Until is null;

    public bool Matches(DeadLetterMessage message)
    {
        if (TypeUrns.Count > 0 && !message.MessageTypes.Any(t => TypeUrns.Contains(t, StringComparer.OrdinalIgnoreCase)))
        {
            return false;
        }

        if (Exceptions.Count > 0 && !Exceptions.Any(e => ExceptionMatches(message.ExceptionType, e)))
        {
            return false;
        }

        if (Ids.Count > 0 && (message.MessageId is null || !Ids.Contains(message.MessageId)))
        {
            return false;
        }

        if (Since is not null && (message.LastFailure is null || message.LastFailure < Since))
        {
            return false;
        }

        return Until is null || (message.LastFailure is not null && message.LastFailure <= Until);
    }

    /// <summary>The exception filter matches the full type name or the short name (<c>TimeoutException</c>).</summary>
    private static bool ExceptionMatches(string? actual, string wanted) =>
        actual is not null
        && (string.Equals(actual, wanted, StringComparison.OrdinalIgnoreCase)
            || actual.EndsWith("." + wanted, StringComparison.OrdinalIgnoreCase));

    /// <summary>The filter options shared by <c>replay</c> and <c>purge</c>.</summary>
    internal sealed class Options
    {
        public Option<string[]> Type { get; } = new("--type") { Description = "Only messages of this type (.NET full name or urn:message: URN); repeatable." };

        public Option<string[]> Exception { get; } = new("--exception") { Description = "Only messages that failed with this exception (full or short type name); repeatable." };

        public Option<string?> Since { get; } = new("--since") { Description = "Only messages whose last failure is at or after this time (ISO 8601, or a duration ago such as 2h, 30m, 1d)." };

        public Option<string?> Until { get; } = new("--until") { Description = "Only messages whose last failure is at or before this time (ISO 8601, or a duration ago)." };

        public Option<string[]> Id { get; } = new("--id") { Description = "Only these message ids; repeatable.", AllowMultipleArgumentsPerToken = true };

        public void AddTo(Command command)
        {
            command.Options.Add(Type);
            command.Options.Add(Exception);
            command.Options.Add(Since);
            command.Options.Add(Until);
            command.Options.Add(Id);
        }

        public DeadLetterFilter Create(ParseResult parse, TimeProvider time)
        {
            var urns = new List<string>();
            foreach (var type in parse.GetValue(Type) ?? [])
            {
                urns.Add(MessageTypeName.ToUrn(type) ?? throw CliException.Usage($"--type '{type}' is neither a .NET type name nor a urn:message: URN."));
            }

            var ids = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var id in parse.GetValue(Id) ?? [])
            {
                if (string.IsNullOrWhiteSpace(id))
                {
                    throw CliException.Usage("--id must not be empty.");
                }

                ids.Add(id.Trim());
            }

            var now = time.GetUtcNow();
            var since = ParseTime(parse.GetValue(Since), "--since", now);
            var until = ParseTime(parse.GetValue(Until), "--until", now);
            if (since is not null && until is not null && since > until)
            {
                throw CliException.Usage("conflicting filters: --since is later than --until, nothing could match.");
            }

            return new DeadLetterFilter
            {
                TypeUrns = urns,
                Exceptions = (parse.GetValue(Exception) ?? []).Where(e => !string.IsNullOrWhiteSpace(e)).ToList(),
                Ids = ids,
                Since = since,
                Until = until,
            };
        }

        internal static DateTimeOffset? ParseTime(string? text, string option, DateTimeOffset now)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                return null;
            }

            if (text.Length >= 2 && char.IsAsciiLetter(text[^1]) && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) && amount >= 0)
            {
                TimeSpan? ago = char.ToLowerInvariant(text[^1]) switch
                {
                    's' => TimeSpan.FromSeconds(amount),
                    'm' => TimeSpan.FromMinutes(amount),
                    'h' => TimeSpan.FromHours(amount),
                    'd' => TimeSpan.FromDays(amount),
                    _ => null,
                };
                if (ago is { } span)
                {
                    return now - span;
                }
            }

            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
            {
                return time;
            }

            throw CliException.Usage($"{option} '{text}' is neither an ISO 8601 time nor a duration such as 2h.");
        }
    }
}
