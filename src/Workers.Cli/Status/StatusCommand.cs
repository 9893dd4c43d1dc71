using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Workers.Cli.Broker;
using Workers.Cli.Output;

namespace Workers.Cli.Status;

/// <summary>
/// <c>workers status</c>: per endpoint, consumers, queue depth and dead-letter depth from the broker
/// (management API; with queue names given and no management API, AMQP passive declares), plus the
/// workers' own state from their status URLs when given.
/// </summary>
internal static class StatusCommand
{
    public static Command Create(CliConsole console, ConnectionSettings connections)
    {
        var queues = DeadLetters.DeadLetterCommands.NotAnOption(new Argument<string[]>("queue") { Description = "Only these endpoints (default: every queue of the vhost).", Arity = ArgumentArity.ZeroOrMore });
        var workerUrls = new Option<string[]>("--worker-url") { Description = "Status URL of a worker (circuit, bulkhead, outbox lag); repeatable." };
        var json = new Option<bool>("--json") { Description = "Write JSON instead of a table." };
        var command = new Command("status", "Show each endpoint's consumers, queue depth and dead-letter depth.") { queues, workerUrls, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var amqp = connections.GetRabbitMqUri(parse, console);
            var virtualHost = amqp.AbsolutePath.Length <= 1 ? "/" : Uri.UnescapeDataString(amqp.AbsolutePath[1..]);
            var wanted = parse.GetValue(queues) ?? [];
            var sources = new List<IWorkerStatusSource>();
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            foreach (var text in parse.GetValue(workerUrls) ?? [])
            {
                if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || (url.Scheme != "http" && url.Scheme != "https"))
                {
                    throw CliException.Usage($"--worker-url '{text}' is not an http(s) URL.");
                }

                console.RegisterSecret(Secrets.PasswordOf(url));
                sources.Add(new HttpWorkerStatusSource(url, http));
            }

            var rows = await ReadBrokerAsync(console, connections, parse, amqp, virtualHost, wanted, cancellationToken);
            var workers = new Dictionary<string, WorkerEndpointStatus>(StringComparer.Ordinal);
            OutboxStatus? outbox = null;
            foreach (var source in sources)
            {
                var status = await source.GetAsync(cancellationToken);
                foreach (var endpoint in status.Endpoints ?? [])
                {
                    workers[endpoint.Name] = endpoint;
                }

                outbox ??= status.Outbox;
            }

            if (parse.GetValue(json))
            {
                var array = new JsonArray(rows.Select(r => (JsonNode)new JsonObject
                {
                    ["endpoint"] = r.Name,
                    ["consumers"] = r.Consumers,
                    ["ready"] = r.Ready,
                    ["unacknowledged"] = r.Unacknowledged,
                    ["error"] = r.Error,
                    ["skipped"] = r.Skipped,
                    ["circuitState"] = workers.GetValueOrDefault(r.Name)?.CircuitState,
                    ["bulkheadInFlight"] = workers.GetValueOrDefault(r.Name)?.BulkheadInFlight,
                }).ToArray());
                var document = new JsonObject { ["vhost"] = virtualHost, ["endpoints"] = array, ["outbox"] = outbox is null ? null : JsonSerializer.SerializeToNode(outbox) };
                await console.Out.WriteLineAsync(document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return ExitCodes.Ok;
            }

            await TableWriter.WriteAsync(
                console.Out,
                ["ENDPOINT", "CONSUMERS", "READY", "UNACKED", "ERROR", "SKIPPED", "CIRCUIT", "BULKHEAD"],
                rows.Select(r =>
                {
                    var worker = workers.GetValueOrDefault(r.Name);
                    return (IReadOnlyList<string>)
                    [
                        r.Name, Show(r.Consumers), Show(r.Ready), Show(r.Unacknowledged), Show(r.Error), Show(r.Skipped),
                        worker?.CircuitState ?? "-",
                        worker?.BulkheadInFlight is { } inFlight ? $"{inFlight}/{(worker.BulkheadLimit is { } limit ? limit.ToString(CultureInfo.InvariantCulture) : "?")}" : "-",
                    ];
                }));
            await console.Out.WriteLineAsync(outbox is null
                ? $"vhost '{virtualHost}': {rows.Count} endpoint(s); outbox: - (give --worker-url for worker-side state)."
                : string.Create(CultureInfo.InvariantCulture, $"vhost '{virtualHost}': {rows.Count} endpoint(s); outbox: {outbox.Pending?.ToString(CultureInfo.InvariantCulture) ?? "?"} pending, lag {outbox.LagSeconds?.ToString("0.0", CultureInfo.InvariantCulture) ?? "?"} s{(outbox.Quarantined is > 0 ? $"; {outbox.Quarantined} quarantined, {outbox.Held ?? 0} held behind them (see workers_outbox_quarantine)" : string.Empty)}."));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<List<EndpointRow>> ReadBrokerAsync(CliConsole console, ConnectionSettings connections, ParseResult parse, Uri amqp, string virtualHost, string[] wanted, CancellationToken cancellationToken)
    {
        var managementUri = connections.GetManagementUri(parse, console, amqp);
        IReadOnlyList<ManagementApi.QueueState> queues;
        try
        {
            using var management = new ManagementApi(managementUri);
            queues = await management.GetQueuesAsync(virtualHost, cancellationToken);
        }
        catch (HttpRequestException exception) when (wanted.Length > 0)
        {
            await console.Error.WriteLineAsync($"warning: management API unreachable ({exception.Message}); reading the given queues over AMQP (no unacked counts).");
            return await ReadOverAmqpAsync(amqp, wanted, cancellationToken);
        }

        var byName = queues.ToDictionary(q => q.Name, StringComparer.Ordinal);
        var endpoints = wanted.Length > 0
            ? wanted.ToList()
            : queues.Select(q => q.Name.EndsWith(QueueNames.ErrorSuffix, StringComparison.Ordinal) ? q.Name[..^QueueNames.ErrorSuffix.Length]
                    : q.Name.EndsWith(QueueNames.SkippedSuffix, StringComparison.Ordinal) ? q.Name[..^QueueNames.SkippedSuffix.Length] : q.Name)
                .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var rows = new List<EndpointRow>();
        foreach (var name in endpoints)
        {
            var queue = byName.GetValueOrDefault(name);
            if (queue is null && wanted.Length > 0)
            {
                throw new CliException($"unknown queue '{name}' in vhost '{virtualHost}'.");
            }

            rows.Add(new EndpointRow(name, queue?.Consumers, queue?.Ready, queue?.Unacknowledged, Depth(byName.GetValueOrDefault(name + QueueNames.ErrorSuffix)), Depth(byName.GetValueOrDefault(name + QueueNames.SkippedSuffix))));
        }

        return rows;
    }

    private static async Task<List<EndpointRow>> ReadOverAmqpAsync(Uri amqp, string[] wanted, CancellationToken cancellationToken)
    {
        await using var broker = await BrokerClient.ConnectAsync(amqp, cancellationToken);
        var rows = new List<EndpointRow>();
        foreach (var name in wanted)
        {
            var queue = await broker.RequireQueueAsync(name, cancellationToken);
            var error = await broker.InspectQueueAsync(name + QueueNames.ErrorSuffix, cancellationToken);
            var skipped = await broker.InspectQueueAsync(name + QueueNames.SkippedSuffix, cancellationToken);
            rows.Add(new EndpointRow(name, queue.ConsumerCount, queue.MessageCount, null, error?.MessageCount, skipped?.MessageCount));
        }

        return rows;
    }

    private static long? Depth(ManagementApi.QueueState? queue) => queue is null ? null : (queue.Ready ?? 0) + (queue.Unacknowledged ?? 0);

    private static string Show(long? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "-";

    private sealed record EndpointRow(string Name, long? Consumers, long? Ready, long? Unacknowledged, long? Error, long? Skipped);
}
