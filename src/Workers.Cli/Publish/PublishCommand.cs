using System.CommandLine;
using System.Globalization;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Workers.Cli.Broker;
using Workers.Cli.Output;

namespace Workers.Cli.Publish;

/// <summary><c>workers publish &lt;queue-or-exchange&gt; --type T (--body | --file | stdin)</c>: MassTransit envelopes, publisher confirms.</summary>
internal static class PublishCommand
{
    private const int ConfirmWindow = 256;

    public static Command Create(CliConsole console, ConnectionSettings connections)
    {
        var target = DeadLetters.DeadLetterCommands.NotAnOption(new Argument<string>("queue-or-exchange") { Description = "Queue (published through the default exchange) or exchange to publish to." });
        var type = new Option<string>("--type") { Description = "Message type: .NET full type name (Namespace.TypeName) or urn:message: URN.", Required = true };
        var body = new Option<string?>("--body") { Description = "The message as one JSON object." };
        var file = new Option<string?>("--file") { Description = "A JSON Lines file: one message (JSON object) per line." };
        var count = new Option<int>("--count") { Description = "Send the input this many times (new message id each time).", DefaultValueFactory = _ => 1 };
        var rate = new Option<string?>("--rate") { Description = "Publish at most R messages per second (50, 50/s, 300/m)." };
        var headers = new Option<string[]>("--header") { Description = "Header k=v added to every message (repeatable).", AllowMultipleArgumentsPerToken = false };
        var command = new Command("publish", "Publish messages in MassTransit's JSON envelope, with publisher confirms.")
        {
            target, type, body, file, count, rate, headers,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var urn = MessageTypeName.ToUrn(parse.GetValue(type))
                ?? throw CliException.Usage($"--type '{parse.GetValue(type)}' is neither a .NET type name (Namespace.TypeName) nor a urn:message: URN.");
            var times = parse.GetValue(count);
            if (times < 1)
            {
                throw CliException.Usage("--count must be at least 1.");
            }

            var perSecond = Pacer.ParseRate(parse.GetValue(rate), "--rate");
            var headerValues = ParseHeaders(parse.GetValue(headers) ?? []);
            var source = MessageSource.Create(parse.GetValue(body), parse.GetValue(file), console);
            await source.ValidateAsync(cancellationToken);
            var uri = connections.GetRabbitMqUri(parse, console);
            await using var broker = await BrokerClient.ConnectAsync(uri, cancellationToken);
            return await PublishAsync(console, broker, parse.GetValue(target)!, urn, source, times, perSecond, headerValues, cancellationToken);
        });
        return command;
    }

    private static async Task<int> PublishAsync(CliConsole console, BrokerClient broker, string name, string urn, MessageSource source, int times, double? perSecond, IReadOnlyDictionary<string, string> headers, CancellationToken cancellationToken)
    {
        var (exchange, routingKey, kind) = await ResolveTargetAsync(broker, name, cancellationToken);
        var destination = MassTransitEnvelope.AddressOf(broker.Uri, broker.VirtualHost, name);
        var sourceAddress = MassTransitEnvelope.AddressOf(broker.Uri, broker.VirtualHost, "workers-cli");
        var total = source.Count * times;
        var progress = new ProgressReporter(console, "published", total);
        var pacer = new Pacer(perSecond, console.Time);
        var started = console.Time.GetTimestamp();
        var channel = await broker.OpenConfirmedChannelAsync(cancellationToken);
        long confirmed = 0;
        var pending = new List<Task>(ConfirmWindow);
        try
        {
            for (var round = 0; round < times; round++)
            {
                await foreach (var message in source.ReadAsync(cancellationToken))
                {
                    await pacer.WaitAsync(cancellationToken);
                    var messageId = Guid.NewGuid();
                    var envelope = MassTransitEnvelope.Create(messageId, Guid.NewGuid(), urn, message, sourceAddress, destination, console.Time.GetUtcNow(), headers);
                    var properties = MassTransitEnvelope.CreateProperties(messageId, headers);
                    pending.Add(channel.BasicPublishAsync(exchange, routingKey, mandatory: true, properties, envelope, cancellationToken).AsTask());
                    if (pending.Count >= ConfirmWindow || perSecond is not null)
                    {
                        confirmed += await DrainAsync(pending);
                        progress.Report(confirmed);
                    }
                }
            }

            confirmed += await DrainAsync(pending);
            progress.Report(confirmed);
        }
        catch (PublishException exception)
        {
            progress.Complete();
            throw new CliException(exception.IsReturn
                ? $"the broker could not route a message to {kind} '{name}' (returned as unroutable); {confirmed} of {total} were confirmed before."
                : $"the broker refused a message (nack); {confirmed} of {total} were confirmed before.");
        }
        finally
        {
            await BrokerClient.CloseQuietlyAsync(channel);
        }

        progress.Complete();
        var elapsed = console.Time.GetElapsedTime(started);
        await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"published {confirmed} message(s) of type {urn} to {kind} '{name}' in vhost '{broker.VirtualHost}' from {source.Description}: all confirmed in {elapsed.TotalSeconds:0.00} s ({(elapsed.TotalSeconds > 0 ? confirmed / elapsed.TotalSeconds : confirmed):0} msg/s)."));
        return ExitCodes.Ok;
    }

    private static async Task<long> DrainAsync(List<Task> pending)
    {
        var count = pending.Count;
        try
        {
            await Task.WhenAll(pending);
        }
        finally
        {
            pending.Clear();
        }

        return count;
    }

    private static async Task<(string Exchange, string RoutingKey, string Kind)> ResolveTargetAsync(BrokerClient broker, string name, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw CliException.Usage("the queue or exchange name is empty.");
        }

        if (await broker.InspectQueueAsync(name, cancellationToken) is not null)
        {
            return (string.Empty, name, "queue");
        }

        if (await broker.ExchangeExistsAsync(name, cancellationToken))
        {
            return (name, string.Empty, "exchange");
        }

        throw new CliException($"unknown queue or exchange '{name}' in vhost '{broker.VirtualHost}'.");
    }

    internal static IReadOnlyDictionary<string, string> ParseHeaders(IEnumerable<string> values)
    {
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var value in values)
        {
            var index = value.IndexOf('=', StringComparison.Ordinal);
            if (index <= 0)
            {
                throw CliException.Usage($"--header '{value}' must be k=v.");
            }

            headers[value[..index].Trim()] = value[(index + 1)..];
        }

        return headers;
    }
}
