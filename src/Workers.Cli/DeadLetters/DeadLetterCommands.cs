using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Workers.Cli.Broker;
using Workers.Cli.Output;

namespace Workers.Cli.DeadLetters;

/// <summary><c>workers dlq list | show | replay | purge</c>: the dead-letter queues (<c>&lt;queue&gt;_error</c>).</summary>
internal static class DeadLetterCommands
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Command Create(CliConsole console, ConnectionSettings connections)
    {
        var dlq = new Command("dlq", "Inspect, replay and purge dead letters (<queue>_error).");
        dlq.Subcommands.Add(CreateList(console, connections));
        dlq.Subcommands.Add(CreateShow(console, connections));
        dlq.Subcommands.Add(ReplayCommand.Create(console, connections));
        dlq.Subcommands.Add(CreatePurge(console, connections));
        dlq.Subcommands.Add(GroupsCommand.Create(console, connections));
        return dlq;
    }

    internal static Argument<string> QueueArgument() =>
        NotAnOption(new Argument<string>("queue") { Description = "The endpoint's queue (its dead letters are in <queue>_error; an _error or _skipped name is taken as is)." });

    /// <summary>Rejects a value that looks like an option (<c>--bogus</c>), which the parser would otherwise take as a name.</summary>
    internal static Argument<T> NotAnOption<T>(Argument<T> argument)
    {
        argument.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                if (token.Value.StartsWith('-'))
                {
                    result.AddError($"unknown option '{token.Value}'.");
                }
            }
        });
        return argument;
    }

    /// <summary>The <c>--batch</c> option of every dlq command.</summary>
    internal static Option<int?> BatchOption() => new("--batch")
    {
        Description = $"Messages read and held unacknowledged at once (1 to {DeadLetterLap.MaxBatchSize}, default {DeadLetterLap.DefaultBatchSize}): memory stays within one batch, whatever the queue's length.",
    };

    internal static int GetBatch(ParseResult parse, Option<int?> option) =>
        parse.GetValue(option) switch
        {
            null => DeadLetterLap.DefaultBatchSize,
            < 1 or > DeadLetterLap.MaxBatchSize => throw CliException.Usage($"--batch must be between 1 and {DeadLetterLap.MaxBatchSize}."),
            { } value => value,
        };

    /// <summary>Settles a batch whose every message stays (republished to the tail, confirmed, then acknowledged).</summary>
    internal static async Task KeepAllAsync(DeadLetterLap lap, IReadOnlyList<DeadLetterMessage> messages, CancellationToken cancellationToken)
    {
        var outcome = await lap.SettleAsync(messages.Select(Decision.Keep).ToList(), pacer: null, oneMoveAtATime: false, cancellationToken);
        ThrowOnFailure(lap, outcome);
    }

    internal static void ThrowOnFailure(DeadLetterLap lap, SettleOutcome outcome)
    {
        if (outcome.Failure is not null)
        {
            throw new CliException($"stopped after {lap.Read} of {lap.TotalAtStart} message(s) in '{lap.Queue}': {outcome.Failure}; nothing was lost (the messages not settled return to '{lap.Queue}').");
        }
    }

    private static Command CreateList(CliConsole console, ConnectionSettings connections)
    {
        var queue = QueueArgument();
        var limit = new Option<int?>("--limit") { Description = "Show at most N messages (from the head of the queue)." };
        var json = new Option<bool>("--json") { Description = "Write a JSON array instead of a table." };
        var batch = BatchOption();
        var command = new Command("list", "List dead letters without removing or reordering them.") { queue, limit, json, batch };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(limit) is < 1)
            {
                throw CliException.Usage("--limit must be at least 1.");
            }

            var batchSize = GetBatch(parse, batch);
            await using var broker = await BrokerClient.ConnectAsync(connections.GetRabbitMqUri(parse, console), cancellationToken);
            var errorQueue = QueueNames.ErrorQueueOf(parse.GetValue(queue)!);
            await using var lap = await DeadLetterLap.StartAsync(broker, errorQueue, batchSize, cancellationToken);
            var wanted = parse.GetValue(limit) ?? long.MaxValue;
            var asJson = parse.GetValue(json);
            var array = new JsonArrayWriter(console.Out);
            var table = new StreamingTable(console.Out, ["MESSAGE-ID", "TYPE", "EXCEPTION", "ATTEMPTS", "FIRST-FAILURE", "LAST-FAILURE", "QUEUE"]);
            long shown = 0;
            IReadOnlyList<DeadLetterMessage> messages;
            while ((messages = await lap.NextBatchAsync(cancellationToken)).Count > 0)
            {
                var page = messages.Take((int)Math.Min(messages.Count, wanted - shown)).ToList();
                shown += page.Count;
                if (asJson)
                {
                    foreach (var m in page)
                    {
                        await array.WriteAsync(ListJson(m));
                    }
                }
                else if (page.Count > 0)
                {
                    await table.WriteAsync(page.Select(ListRow).ToList());
                }

                // Every message stays: after the whole lap the queue is in its original order again.
                await KeepAllAsync(lap, messages, cancellationToken);
            }

            if (asJson)
            {
                await array.CompleteAsync();
            }
            else
            {
                await table.CompleteAsync();
                await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{shown} of {lap.TotalAtStart} message(s) in '{errorQueue}' shown; the queue is unchanged."));
            }

            await WarnAboutConsumersAsync(console, lap);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command CreateShow(CliConsole console, ConnectionSettings connections)
    {
        var queue = QueueArgument();
        var id = new Argument<string>("message-id") { Description = "The message id (as shown by 'dlq list')." };
        var batch = BatchOption();
        var command = new Command("show", "Show one dead letter in full: properties, headers and body.") { queue, id, batch };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var batchSize = GetBatch(parse, batch);
            await using var broker = await BrokerClient.ConnectAsync(connections.GetRabbitMqUri(parse, console), cancellationToken);
            var errorQueue = QueueNames.ErrorQueueOf(parse.GetValue(queue)!);
            await using var lap = await DeadLetterLap.StartAsync(broker, errorQueue, batchSize, cancellationToken);
            var wanted = parse.GetValue(id)!;
            DeadLetterMessage? found = null;
            IReadOnlyList<DeadLetterMessage> messages;
            while ((messages = await lap.NextBatchAsync(cancellationToken)).Count > 0)
            {
                found ??= messages.FirstOrDefault(m => string.Equals(m.MessageId, wanted, StringComparison.OrdinalIgnoreCase));
                await KeepAllAsync(lap, messages, cancellationToken);
            }

            if (found is null)
            {
                throw new CliException($"message '{TerminalText.Neutralise(wanted)}' is not in '{errorQueue}' ({lap.Read} message(s) searched).");
            }

            await console.Out.WriteAsync(FormatShow(found, lap.TotalAtStart, QueueNames.EndpointOf(errorQueue)));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command CreatePurge(CliConsole console, ConnectionSettings connections)
    {
        var queue = QueueArgument();
        var filters = new DeadLetterFilter.Options();
        var all = new Option<bool>("--all") { Description = "Purge every dead letter (required when no filter is given)." };
        var yes = new Option<bool>("--yes") { Description = "Really delete (without it the command only counts)." };
        var batch = BatchOption();
        var command = new Command("purge", "Delete the matching dead letters for good (counts first; needs --yes).") { queue, all, yes, batch };
        filters.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var filter = filters.Create(parse, console.Time);
            if (filter.IsEmpty && !parse.GetValue(all))
            {
                throw CliException.Usage("purge needs a filter (--type, --exception, --since, --until, --id) or --all.");
            }

            if (!filter.IsEmpty && parse.GetValue(all))
            {
                throw CliException.Usage("conflicting filters: --all cannot be combined with other filters.");
            }

            var batchSize = GetBatch(parse, batch);
            var delete = parse.GetValue(yes);
            await using var broker = await BrokerClient.ConnectAsync(connections.GetRabbitMqUri(parse, console), cancellationToken);
            var errorQueue = QueueNames.ErrorQueueOf(parse.GetValue(queue)!);
            await using var lap = await DeadLetterLap.StartAsync(broker, errorQueue, batchSize, cancellationToken);
            long matched = 0, purged = 0, kept = 0;
            IReadOnlyList<DeadLetterMessage> messages;
            while ((messages = await lap.NextBatchAsync(cancellationToken)).Count > 0)
            {
                var decisions = new List<Decision>(messages.Count);
                foreach (var m in messages)
                {
                    var match = filter.Matches(m);
                    matched += match ? 1 : 0;
                    decisions.Add(match && delete ? Decision.Remove(m) : Decision.Keep(m));
                }

                var outcome = await lap.SettleAsync(decisions, pacer: null, oneMoveAtATime: false, cancellationToken);
                purged += outcome.Removed;
                kept += outcome.Kept;
                ThrowOnFailure(lap, outcome);
            }

            await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{matched} of {lap.Read} message(s) in '{errorQueue}' match."));
            if (!delete)
            {
                throw CliException.Usage($"nothing purged: re-run with --yes to delete the {matched} matching message(s).");
            }

            await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"purged {purged} message(s) from '{errorQueue}'; {kept} kept in their original order."));
            return ExitCodes.Ok;
        });
        return command;
    }

    internal static async Task WarnAboutConsumersAsync(CliConsole console, DeadLetterLap lap)
    {
        if (lap.Consumers > 0)
        {
            await console.Error.WriteLineAsync($"warning: '{lap.Queue}' has {lap.Consumers} consumer(s); messages they hold were not seen.");
        }
    }

    internal static JsonObject ListJson(DeadLetterMessage m) => new()
    {
        ["messageId"] = m.MessageId,
        ["messageType"] = new JsonArray(m.MessageTypes.Select(t => (JsonNode?)t).ToArray()),
        ["exceptionType"] = m.ExceptionType,
        ["exceptionMessage"] = m.ExceptionMessage,
        ["attempts"] = m.Attempts,
        ["firstFailure"] = m.FirstFailure?.ToString("O", CultureInfo.InvariantCulture),
        ["lastFailure"] = m.LastFailure?.ToString("O", CultureInfo.InvariantCulture),
        ["sourceQueue"] = m.SourceQueue,
        ["replayId"] = m.ReplayId,
    };

    /// <summary>One row of <c>dlq list</c>; message content is neutralised (<see cref="TerminalText"/>).</summary>
    internal static string[] ListRow(DeadLetterMessage m) =>
    [
        TerminalText.Neutralise(m.MessageId ?? "?"), TerminalText.Neutralise(m.DisplayType), TerminalText.Neutralise(Describe(m)),
        m.Attempts.ToString(CultureInfo.InvariantCulture), Format(m.FirstFailure), Format(m.LastFailure), TerminalText.Neutralise(m.SourceQueue ?? "?"),
    ];

    /// <summary>The text of <c>dlq show</c>; message content is neutralised (<see cref="TerminalText"/>), line breaks of the body kept.</summary>
    internal static string FormatShow(DeadLetterMessage message, long totalAtStart, string? replayTarget = null)
    {
        static string Safe(string? text) => TerminalText.Neutralise(text);
        var output = new StringBuilder();
        output.AppendLine(CultureInfo.InvariantCulture, $"message-id:       {Safe(message.MessageId)}");
        output.AppendLine(CultureInfo.InvariantCulture, $"position:         {message.Position + 1} of {totalAtStart}");
        output.AppendLine(CultureInfo.InvariantCulture, $"type:             {Safe(string.Join(", ", message.MessageTypes))}");
        output.AppendLine(CultureInfo.InvariantCulture, $"content-type:     {Safe(message.Properties.ContentType)}");
        output.AppendLine(CultureInfo.InvariantCulture, $"correlation-id:   {Safe(message.Properties.CorrelationId)}");
        output.AppendLine(CultureInfo.InvariantCulture, $"exception:        {Safe(Describe(message))}");
        output.AppendLine(CultureInfo.InvariantCulture, $"attempts:         {message.Attempts}");
        output.AppendLine(CultureInfo.InvariantCulture, $"first-failure:    {Format(message.FirstFailure)}");
        output.AppendLine(CultureInfo.InvariantCulture, $"last-failure:     {Format(message.LastFailure)}");
        var target = replayTarget ?? message.SourceQueue;
        output.AppendLine(CultureInfo.InvariantCulture, $"replay-target:    {Safe(target ?? "(none in the fault headers)")}");
        if (replayTarget is not null && ReplayCommand.DisagreeingHeaderQueue(message, replayTarget) is { } named)
        {
            output.AppendLine(CultureInfo.InvariantCulture, $"                  (the fault headers name '{Safe(named)}': ignored, the target is the dead-letter queue's endpoint)");
        }
        output.AppendLine("headers:");
        foreach (var (key, value) in message.Headers.OrderBy(h => h.Key, StringComparer.Ordinal))
        {
            output.AppendLine(CultureInfo.InvariantCulture, $"  {Safe(key)}: {Safe(HeaderText.From(value))}");
        }

        output.AppendLine("body:");
        output.AppendLine(TerminalText.Neutralise(PrettyBody(message.Body), keepLineBreaks: true));
        return output.ToString();
    }

    internal static string Describe(DeadLetterMessage message) =>
        message.ExceptionType is null ? "?" : message.ExceptionMessage is null ? message.ExceptionType : $"{message.ExceptionType}: {Truncate(message.ExceptionMessage, 60)}";

    internal static string Format(DateTimeOffset? time) => time?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) ?? "?";

    private static string Truncate(string text, int length)
    {
        text = text.ReplaceLineEndings(" ");
        return text.Length <= length ? text : text[..(length - 1)] + "…";
    }

    private static string PrettyBody(byte[] body)
    {
        try
        {
            var node = JsonNode.Parse(body);
            return node?.ToJsonString(Indented) ?? "null";
        }
        catch (JsonException)
        {
            return Encoding.UTF8.GetString(body);
        }
    }
}
