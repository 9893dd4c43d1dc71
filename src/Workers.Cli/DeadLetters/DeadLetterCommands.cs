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
        return dlq;
    }

    internal static Argument<string> QueueArgument() =>
        NotAnOption(new Argument<string>("queue") { Description = "The endpoint's queue (its dead letters are in <queue>_error; an _error name is taken as is)." });

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

    private static Command CreateList(CliConsole console, ConnectionSettings connections)
    {
        var queue = QueueArgument();
        var limit = new Option<int?>("--limit") { Description = "Show at most N messages (from the head of the queue)." };
        var json = new Option<bool>("--json") { Description = "Write a JSON array instead of a table." };
        var command = new Command("list", "List dead letters without removing or reordering them.") { queue, limit, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(limit) is < 1)
            {
                throw CliException.Usage("--limit must be at least 1.");
            }

            await using var broker = await BrokerClient.ConnectAsync(connections.GetRabbitMqUri(parse, console), cancellationToken);
            var errorQueue = QueueNames.ErrorQueueOf(parse.GetValue(queue)!);
            await using var snapshot = await DeadLetterSnapshot.TakeAsync(broker, errorQueue, parse.GetValue(limit), console.Time, cancellationToken);
            await ReleaseAsync(console, snapshot, cancellationToken);
            if (parse.GetValue(json))
            {
                var array = new JsonArray(snapshot.Messages.Select(m => (JsonNode)new JsonObject
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
                }).ToArray());
                await console.Out.WriteLineAsync(array.ToJsonString(Indented));
            }
            else
            {
                var rows = snapshot.Messages.Select(ListRow);
                await TableWriter.WriteAsync(console.Out, ["MESSAGE-ID", "TYPE", "EXCEPTION", "ATTEMPTS", "FIRST-FAILURE", "LAST-FAILURE", "QUEUE"], rows);
                await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{snapshot.Messages.Count} of {snapshot.TotalAtStart} message(s) in '{errorQueue}' shown; the queue is unchanged."));
            }

            await WarnAboutSnapshotAsync(console, snapshot);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command CreateShow(CliConsole console, ConnectionSettings connections)
    {
        var queue = QueueArgument();
        var id = new Argument<string>("message-id") { Description = "The message id (as shown by 'dlq list')." };
        var command = new Command("show", "Show one dead letter in full: properties, headers and body.") { queue, id };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var broker = await BrokerClient.ConnectAsync(connections.GetRabbitMqUri(parse, console), cancellationToken);
            var errorQueue = QueueNames.ErrorQueueOf(parse.GetValue(queue)!);
            await using var snapshot = await DeadLetterSnapshot.TakeAsync(broker, errorQueue, limit: null, console.Time, cancellationToken);
            await ReleaseAsync(console, snapshot, cancellationToken);
            var wanted = parse.GetValue(id)!;
            var message = snapshot.Messages.FirstOrDefault(m => string.Equals(m.MessageId, wanted, StringComparison.OrdinalIgnoreCase))
                ?? throw new CliException($"message '{wanted}' is not in '{errorQueue}' ({snapshot.Messages.Count} message(s) searched).");
            await console.Out.WriteAsync(FormatShow(message, snapshot.TotalAtStart));
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
        var command = new Command("purge", "Delete the matching dead letters for good (counts first; needs --yes).") { queue, all, yes };
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

            await using var broker = await BrokerClient.ConnectAsync(connections.GetRabbitMqUri(parse, console), cancellationToken);
            var errorQueue = QueueNames.ErrorQueueOf(parse.GetValue(queue)!);
            await using var snapshot = await DeadLetterSnapshot.TakeAsync(broker, errorQueue, limit: null, console.Time, cancellationToken);
            var matched = snapshot.Messages.Where(filter.Matches).ToList();
            await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{matched.Count} of {snapshot.Messages.Count} message(s) in '{errorQueue}' match."));
            if (!parse.GetValue(yes))
            {
                await ReleaseAsync(console, snapshot, cancellationToken);
                throw CliException.Usage($"nothing purged: re-run with --yes to delete the {matched.Count} matching message(s).");
            }

            foreach (var message in matched)
            {
                await snapshot.RemoveAsync(message, cancellationToken);
            }

            await ReleaseAsync(console, snapshot, cancellationToken);
            await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"purged {matched.Count} message(s) from '{errorQueue}'; {snapshot.Messages.Count - matched.Count} kept in their original order."));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Returns the messages still held; warns when the broker did not show them back in time.</summary>
    internal static async Task ReleaseAsync(CliConsole console, DeadLetterSnapshot snapshot, CancellationToken cancellationToken)
    {
        if (!await snapshot.ReleaseAsync(cancellationToken))
        {
            await console.Error.WriteLineAsync($"warning: the broker had not shown every message back in '{snapshot.Queue}' after 30 s (another reader or consumer?); nothing is lost, the broker finishes on its own.");
        }
    }

    internal static async Task WarnAboutSnapshotAsync(CliConsole console, DeadLetterSnapshot snapshot)
    {
        if (snapshot.Consumers > 0)
        {
            await console.Error.WriteLineAsync($"warning: '{snapshot.Queue}' has {snapshot.Consumers} consumer(s); messages they hold were not seen.");
        }

        if (snapshot.Messages.Any(m => m.Headers.ContainsKey("x-delivery-count")))
        {
            await console.Error.WriteLineAsync($"warning: '{snapshot.Queue}' is a quorum queue: order is kept, but each read counts as a delivery (x-delivery-count); with a delivery-limit, repeated reads could dead-letter messages.");
        }
    }

    /// <summary>One row of <c>dlq list</c>; message content is neutralised (<see cref="TerminalText"/>).</summary>
    internal static string[] ListRow(DeadLetterMessage m) =>
    [
        TerminalText.Neutralise(m.MessageId ?? "?"), TerminalText.Neutralise(m.DisplayType), TerminalText.Neutralise(Describe(m)),
        m.Attempts.ToString(CultureInfo.InvariantCulture), Format(m.FirstFailure), Format(m.LastFailure), TerminalText.Neutralise(m.SourceQueue ?? "?"),
    ];

    /// <summary>The text of <c>dlq show</c>; message content is neutralised (<see cref="TerminalText"/>), line breaks of the body kept.</summary>
    internal static string FormatShow(DeadLetterMessage message, long totalAtStart)
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
        output.AppendLine(CultureInfo.InvariantCulture, $"replay-target:    {Safe(message.SourceQueue ?? "(none in the fault headers)")}");
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
