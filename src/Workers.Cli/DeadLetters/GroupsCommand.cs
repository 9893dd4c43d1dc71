using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Npgsql;
using Workers.Cli.Broker;
using Workers.Cli.Output;
using Workers.Postgres;
using Workers.Resilience;

namespace Workers.Cli.DeadLetters;

/// <summary>
/// <c>workers dlq groups [queue]</c>: the failure groups (same exception type, same top frames of the application's
/// code, same consumer), largest first. Reads the failure store when a database is given (<c>--postgres</c> or
/// <c>$WORKERS_POSTGRES</c>); otherwise streams the queue's <c>&lt;queue&gt;_error</c> in bounded batches, leaving it
/// unchanged.
/// </summary>
internal static class GroupsCommand
{
    private static readonly string[] Header = ["GROUP", "COUNT", "EXCEPTION", "CONSUMER", "QUEUE", "FIRST-SEEN", "LAST-SEEN", "FIRST-VERSION"];

    public static Command Create(CliConsole console, ConnectionSettings connections)
    {
        var queue = DeadLetterCommands.NotAnOption(new Argument<string?>("queue")
        {
            Description = "Only this endpoint's failures (required without a failure store: its <queue>_error is read).",
            Arity = ArgumentArity.ZeroOrOne,
        });
        var status = new Option<string[]>("--status")
        {
            Description = $"Statuses counted, from the store ({string.Join(", ", FailureStatus.All)}; default {FailureStatus.Unresolved}).",
            AllowMultipleArgumentsPerToken = true,
        };
        var newSince = new Option<string?>("--new-since") { Description = "Only groups that appeared once this application version was running (from the store)." };
        var limit = new Option<int?>("--limit") { Description = "Show at most N groups (default 50)." };
        var schema = new Option<string?>("--schema") { Description = "The store's database schema (default public)." };
        var json = new Option<bool>("--json") { Description = "Write a JSON array instead of a table." };
        var batch = DeadLetterCommands.BatchOption();
        var command = new Command("groups", "Count failures by group (exception type + top application frames + consumer), largest first.") { queue, status, newSince, limit, schema, json, batch };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var top = parse.GetValue(limit) ?? 50;
            if (top < 1)
            {
                throw CliException.Usage("--limit must be at least 1.");
            }

            var statuses = (parse.GetValue(status) ?? []).SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct(StringComparer.Ordinal).ToList();
            if (statuses.FirstOrDefault(s => !FailureStatus.All.Contains(s)) is { } unknown)
            {
                throw CliException.Usage($"--status must be one of {string.Join(", ", FailureStatus.All)} (was '{TerminalText.Neutralise(unknown)}').");
            }

            var postgres = connections.GetPostgresIfGiven(parse, console);
            IReadOnlyList<FailureGroup> groups;
            string source;
            if (postgres is not null)
            {
                var query = new FailureGroupQuery(statuses.Count == 0 ? [FailureStatus.Unresolved] : statuses, parse.GetValue(queue), parse.GetValue(newSince), top);
                (groups, source) = await ReadStoreAsync(postgres, query, parse.GetValue(schema), cancellationToken);
            }
            else
            {
                if (parse.GetValue(queue) is not { } endpoint)
                {
                    throw CliException.Usage("dlq groups needs a queue, or a failure store (--postgres or $WORKERS_POSTGRES).");
                }

                if (statuses.Count > 0 || parse.GetValue(newSince) is not null)
                {
                    throw CliException.Usage("--status and --new-since read the failure store: give --postgres (or set $WORKERS_POSTGRES).");
                }

                (groups, source) = await ReadQueueAsync(console, connections, parse, endpoint, DeadLetterCommands.GetBatch(parse, batch), top, cancellationToken);
            }

            if (parse.GetValue(json))
            {
                var array = new JsonArrayWriter(console.Out);
                foreach (var group in groups)
                {
                    await array.WriteAsync(Json(group));
                }

                await array.CompleteAsync();
            }
            else
            {
                await TableWriter.WriteAsync(console.Out, Header, groups.Select(Row));
                await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{groups.Count} group(s), {groups.Sum(g => g.Count)} failure(s), from {source}."));
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<(IReadOnlyList<FailureGroup>, string)> ReadStoreAsync(string connectionString, FailureGroupQuery query, string? schema, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        if (!await WorkersFailureStore.ExistsAsync(connection, schema, cancellationToken))
        {
            throw new CliException($"no failure store in database '{TerminalText.Neutralise(connection.Database)}'{(schema is null ? string.Empty : $" schema '{TerminalText.Neutralise(schema)}'")}: run 'workers migrate' (and enable Workers:FailureStore in the workers).");
        }

        var groups = await WorkersFailureStore.ReadGroupsAsync(connection, query, schema, cancellationToken);
        return (groups, $"the failure store ({string.Join(", ", query.Statuses)})");
    }

    /// <summary>The queue engine: one lap over <c>&lt;queue&gt;_error</c> in bounded batches; memory grows with the number of groups only.</summary>
    private static async Task<(IReadOnlyList<FailureGroup>, string)> ReadQueueAsync(CliConsole console, ConnectionSettings connections, ParseResult parse, string endpoint, int batchSize, int top, CancellationToken cancellationToken)
    {
        await using var broker = await BrokerClient.ConnectAsync(connections.GetRabbitMqUri(parse, console), cancellationToken);
        var errorQueue = QueueNames.ErrorQueueOf(endpoint);
        await using var lap = await DeadLetterLap.StartAsync(broker, errorQueue, batchSize, cancellationToken);
        var groups = new Dictionary<string, FailureGroup>(StringComparer.Ordinal);
        IReadOnlyList<DeadLetterMessage> messages;
        while ((messages = await lap.NextBatchAsync(cancellationToken)).Count > 0)
        {
            foreach (var message in messages)
            {
                var headers = message.Headers.ToDictionary(h => h.Key, h => h.Value, StringComparer.Ordinal);
                var fingerprint = WorkersFailureStore.FingerprintOf(errorQueue, headers);
                var first = message.FirstFailure ?? message.LastFailure;
                var version = HeaderText.Get(message.Headers, WorkersHeaders.FaultHostVersion) ?? HeaderText.Get(message.Headers, WorkersHeaders.HostAssemblyVersion);
                groups[fingerprint] = groups.TryGetValue(fingerprint, out var g)
                    ? g with
                    {
                        Count = g.Count + 1,
                        FirstSeen = Min(g.FirstSeen, first),
                        LastSeen = Max(g.LastSeen, message.LastFailure),
                        FirstSeenVersion = Min(g.FirstSeen, first) == g.FirstSeen ? g.FirstSeenVersion : version,
                    }
                    : new FailureGroup(
                        fingerprint, 1, first, message.LastFailure, message.ExceptionType, message.ExceptionMessage,
                        HeaderText.Get(message.Headers, WorkersHeaders.FaultConsumer) ?? HeaderText.Get(message.Headers, WorkersHeaders.FaultConsumerType),
                        QueueNames.EndpointOf(errorQueue), message.MessageTypes.Count > 0 ? message.MessageTypes[0] : null, version);
            }

            await DeadLetterCommands.KeepAllAsync(lap, messages, cancellationToken);
        }

        await DeadLetterCommands.WarnAboutConsumersAsync(console, lap);
        var ordered = groups.Values.OrderByDescending(g => g.Count).ThenBy(g => g.Fingerprint, StringComparer.Ordinal).Take(top).ToList();
        return (ordered, string.Create(CultureInfo.InvariantCulture, $"'{errorQueue}' ({lap.Read} message(s); the queue is unchanged)"));
    }

    private static DateTimeOffset? Min(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a < b ? a : b;

    private static DateTimeOffset? Max(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;

    internal static string[] Row(FailureGroup g) =>
    [
        g.Fingerprint, g.Count.ToString(CultureInfo.InvariantCulture), TerminalText.Neutralise(Describe(g)), TerminalText.Neutralise(g.Consumer ?? "?"),
        TerminalText.Neutralise(g.Queue), DeadLetterCommands.Format(g.FirstSeen), DeadLetterCommands.Format(g.LastSeen), TerminalText.Neutralise(g.FirstSeenVersion ?? "?"),
    ];

    internal static JsonObject Json(FailureGroup g) => new()
    {
        ["group"] = g.Fingerprint,
        ["count"] = g.Count,
        ["exceptionType"] = g.ExceptionType,
        ["exceptionMessage"] = g.ExceptionMessage,
        ["consumer"] = g.Consumer,
        ["queue"] = g.Queue,
        ["messageType"] = g.MessageType,
        ["firstSeen"] = g.FirstSeen?.ToString("O", CultureInfo.InvariantCulture),
        ["lastSeen"] = g.LastSeen?.ToString("O", CultureInfo.InvariantCulture),
        ["firstSeenVersion"] = g.FirstSeenVersion,
    };

    private static string Describe(FailureGroup g)
    {
        var message = g.ExceptionMessage?.ReplaceLineEndings(" ");
        var text = g.ExceptionType is null ? "?" : message is null ? g.ExceptionType : $"{g.ExceptionType}: {message}";
        return text.Length <= 70 ? text : text[..69] + "…";
    }
}
