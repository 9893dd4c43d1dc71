using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Workers.FaultTests;

/// <summary>
/// The consumer-side record a scenario reads from the broker: a test-owned audit queue bound to the
/// <c>OrderAccepted</c> exchange (one event per applied order), and the dead-letter queues <c>submit-order_error</c>
/// and <c>submit-order_skipped</c> (drained, with their reason header). Declared BEFORE the worker starts.
/// </summary>
internal sealed class QueueObserver : IAsyncDisposable
{
    public const string OrderAcceptedExchange = "Workers.Sample.Contracts:OrderAccepted";
    public const string AuditQueue = "fault-audit";
    public const string ErrorQueue = "submit-order_error";
    public const string SkippedQueue = "submit-order_skipped";
    private readonly ConcurrentDictionary<Guid, int> accepted = new();
    private readonly ConcurrentDictionary<Guid, DeadLetter> deadLettered = new();
    private readonly ConcurrentDictionary<Guid, long> firstArrival = new();
    private readonly Stopwatch clock;
    private IConnection? connection;
    private IChannel? channel;
    private int deadLetterCount;

    public QueueObserver(Stopwatch clock) => this.clock = clock;

    /// <summary>When false, <c>submit-order_error</c> is declared but not drained (the dead-letter replay scenario works on it).</summary>
    public bool DrainErrorQueue { get; set; } = true;

    /// <summary>Arguments of the audit queue (e.g. quorum on a cluster, so that it outlives a node); none by default.</summary>
    public IDictionary<string, object?>? AuditQueueArguments { get; set; }

    /// <summary>
    /// Arguments of <c>submit-order_error</c> and <c>submit-order_skipped</c>, exactly as the workers declare them (a
    /// queue declared first with other arguments makes the workers' declaration fail with 406); none (classic) by default.
    /// </summary>
    public IDictionary<string, object?>? DeadLetterQueueArguments { get; set; }

    /// <summary>Orders seen as accepted (OrderAccepted events), with how many events each.</summary>
    public IReadOnlyDictionary<Guid, int> Accepted => accepted;

    /// <summary>Dead-lettered messages by id (message id and order id in the body; a fresh id when neither).</summary>
    public IReadOnlyDictionary<Guid, DeadLetter> DeadLettered => deadLettered;

    /// <summary>Every dead-letter message, duplicates included.</summary>
    public int DeadLetterCount => Volatile.Read(ref deadLetterCount);

    /// <summary>Clock ticks of each order's first OrderAccepted arrival.</summary>
    public IReadOnlyDictionary<Guid, long> FirstArrival => firstArrival;

    public async Task StartAsync(Uri broker, CancellationToken cancellationToken)
    {
        connection = await new ConnectionFactory
        {
            Uri = broker,
            ClientProvidedName = "fault-observer",
            AutomaticRecoveryEnabled = true,
            NetworkRecoveryInterval = TimeSpan.FromMilliseconds(500),
        }.CreateConnectionAsync(cancellationToken);
        channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        await channel.BasicQosAsync(0, 200, false, cancellationToken);
        await channel.ExchangeDeclareAsync(OrderAcceptedExchange, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken);
        await channel.QueueDeclareAsync(AuditQueue, durable: true, exclusive: false, autoDelete: false, AuditQueueArguments, cancellationToken: cancellationToken);
        await channel.QueueBindAsync(AuditQueue, OrderAcceptedExchange, string.Empty, cancellationToken: cancellationToken);
        foreach (var queue in new[] { ErrorQueue, SkippedQueue })
        {
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, DeadLetterQueueArguments, cancellationToken: cancellationToken);
        }

        await ConsumeAsync(AuditQueue, OnAccepted, cancellationToken);
        if (DrainErrorQueue)
        {
            await ConsumeAsync(ErrorQueue, (args) => OnDeadLetter(ErrorQueue, args), cancellationToken);
        }

        await ConsumeAsync(SkippedQueue, (args) => OnDeadLetter(SkippedQueue, args), cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (connection is not null)
        {
            try
            {
                await connection.CloseAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception) when (connection is not null)
            {
            }

            connection.Dispose();
        }
    }

    /// <summary>Consumers on a queue (AMQP passive declare), or -1 when it does not exist or the broker is away.</summary>
    public async Task<int> ConsumerCountAsync(string queue, CancellationToken cancellationToken)
    {
        try
        {
            await using var probe = await connection!.CreateChannelAsync(cancellationToken: cancellationToken);
            return (int)(await probe.QueueDeclarePassiveAsync(queue, cancellationToken)).ConsumerCount;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return -1;
        }
    }

    /// <summary>Ready messages in a queue (AMQP passive declare), 0 when it cannot be read.</summary>
    public async Task<uint> ReadyCountAsync(string queue, CancellationToken cancellationToken)
    {
        try
        {
            await using var probe = await connection!.CreateChannelAsync(cancellationToken: cancellationToken);
            return (await probe.QueueDeclarePassiveAsync(queue, cancellationToken)).MessageCount;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return 0;
        }
    }

    internal static Guid? OrderIdOf(ReadOnlySpan<byte> body)
    {
        try
        {
            using var json = JsonDocument.Parse(body.ToArray());
            if (json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object
                && message.TryGetProperty("orderId", out var id) && id.TryGetGuid(out var guid))
            {
                return guid;
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }

    private async Task ConsumeAsync(string queue, Action<BasicDeliverEventArgs> handle, CancellationToken cancellationToken)
    {
        var consumer = new AsyncEventingBasicConsumer(channel!);
        consumer.ReceivedAsync += async (sender, args) =>
        {
            handle(args);
            await ((AsyncEventingBasicConsumer)sender).Channel.BasicAckAsync(args.DeliveryTag, false);
        };
        await channel!.BasicConsumeAsync(queue, autoAck: false, consumer, cancellationToken);
    }

    private void OnAccepted(BasicDeliverEventArgs args)
    {
        if (OrderIdOf(args.Body.Span) is { } id)
        {
            accepted.AddOrUpdate(id, 1, (_, n) => n + 1);
            firstArrival.TryAdd(id, clock.ElapsedTicks);
        }
    }

    private void OnDeadLetter(string queue, BasicDeliverEventArgs args)
    {
        Interlocked.Increment(ref deadLetterCount);
        var ids = new List<Guid>();
        if (Guid.TryParse(args.BasicProperties.MessageId, out var messageId))
        {
            ids.Add(messageId);
        }

        if (OrderIdOf(args.Body.Span) is { } orderId && orderId != messageId)
        {
            ids.Add(orderId);
        }


        var headers = args.BasicProperties.Headers;
        string? Header(string name) => headers is not null && headers.TryGetValue(name, out var value) ? value switch
        {
            byte[] bytes => Encoding.UTF8.GetString(bytes),
            null => null,
            _ => value.ToString(),
        } : null;
        var letter = new DeadLetter(queue, Header("MT-Reason"), Header("MT-Fault-ExceptionType"), Header("Workers-Fault-Disposition"), args.BasicProperties.MessageId);
        foreach (var id in ids.DefaultIfEmpty(Guid.NewGuid()))
        {
            deadLettered[id] = letter;
        }
    }

    /// <summary>Where a dead-lettered message went and why.</summary>
    internal sealed record DeadLetter(string Queue, string? Reason, string? ExceptionType, string? Disposition, string? MessageId);
}
