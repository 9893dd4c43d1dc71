using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Workers.FaultTests;

/// <summary>
/// The producer side of a scenario: publishes <c>SubmitOrder</c> messages (MassTransit envelope, persistent, publisher
/// confirms) at a steady rate with the plain client, and logs every id the broker confirmed. A publish that fails
/// (connection gone, channel closed) is retried with the SAME id until confirmed or the give-up bound, so the broker
/// may hold a duplicate of an id: the inbox must absorb it.
/// </summary>
internal sealed class OrderLoad : IAsyncDisposable
{
    public const string SubmitOrderType = "Workers.Sample.Contracts:SubmitOrder";
    private const int Publishers = 12;
    private static readonly TimeSpan GiveUp = TimeSpan.FromSeconds(120);
    private readonly ConnectionFactory factory;
    private readonly ConcurrentDictionary<Guid, long> confirmed = new();
    private readonly ConcurrentDictionary<Guid, byte> attempted = new();
    private readonly Stopwatch clock;
    private IConnection? connection;
    private int resent;

    public OrderLoad(Uri broker, Stopwatch clock)
    {
        factory = new ConnectionFactory
        {
            Uri = broker,
            ClientProvidedName = "fault-producer",
            AutomaticRecoveryEnabled = true,
            NetworkRecoveryInterval = TimeSpan.FromMilliseconds(500),
        };
        this.clock = clock;
    }

    /// <summary>Ids the broker confirmed, with the clock tick of the confirm.</summary>
    public IReadOnlyDictionary<Guid, long> Confirmed => confirmed;

    /// <summary>Messages handed to a publish at least once.</summary>
    public int Sent => attempted.Count;

    /// <summary>Publishes repeated after a failure.</summary>
    public int Resent => Volatile.Read(ref resent);

    /// <summary>Publishes at <paramref name="rate"/> per second until <paramref name="stop"/> is cancelled or <paramref name="max"/> elapses; returns when every message is confirmed or given up.</summary>
    public async Task RunAsync(int rate, TimeSpan max, CancellationToken stop, CancellationToken abort)
    {
        connection ??= await ConnectAsync(abort);
        var queue = Channel.CreateBounded<Guid>(new BoundedChannelOptions(rate * 10) { SingleWriter = true });
        var publishers = Enumerable.Range(0, Publishers).Select(_ => PublishLoopAsync(queue.Reader, abort)).ToArray();
        var started = Stopwatch.StartNew();
        try
        {
            for (long i = 0; !stop.IsCancellationRequested && started.Elapsed < max; i++)
            {
                var due = TimeSpan.FromSeconds((double)i / rate) - started.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due, stop);
                }

                await queue.Writer.WriteAsync(Guid.NewGuid(), abort);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested && !abort.IsCancellationRequested)
        {
        }

        queue.Writer.Complete();
        await Task.WhenAll(publishers);
    }

    /// <summary>Publishes one message (any body and properties) to an exchange, confirmed; for poison input.</summary>
    public async Task PublishRawAsync(string exchange, byte[] body, BasicProperties properties, CancellationToken cancellationToken)
    {
        connection ??= await ConnectAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
        await channel.BasicPublishAsync(exchange, string.Empty, mandatory: false, properties, body, cancellationToken);
    }

    /// <summary>The MassTransit JSON envelope of a <c>SubmitOrder</c> (order id = message id).</summary>
    public static byte[] Envelope(Guid id, string messageType, object message) => Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["messageId"] = id,
        ["messageType"] = new[] { "urn:message:" + messageType },
        ["message"] = message,
        ["sentTime"] = DateTime.UtcNow,
        ["headers"] = new Dictionary<string, object>(),
    }));

    /// <summary>A valid order.</summary>
    public static object Order(Guid id, decimal amount = 10m) => new { orderId = id, customerId = "c-" + id.ToString("N")[..6], amount };

    /// <summary>Persistent properties with the MassTransit content type.</summary>
    public static BasicProperties Properties(Guid id) => new() { ContentType = "application/vnd.masstransit+json", MessageId = id.ToString(), Persistent = true };

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

    private async Task<IConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await factory.CreateConnectionAsync(cancellationToken);
            }
            catch (BrokerUnreachableException) when (deadline.Elapsed < GiveUp)
            {
                await Task.Delay(500, cancellationToken);
            }
        }
    }

    private async Task PublishLoopAsync(ChannelReader<Guid> ids, CancellationToken abort)
    {
        IChannel? channel = null;
        try
        {
            await foreach (var id in ids.ReadAllAsync(abort))
            {
                attempted.TryAdd(id, 0);
                var body = Envelope(id, SubmitOrderType, Order(id));
                var since = Stopwatch.StartNew();
                for (var attempt = 0; ; attempt++)
                {
                    try
                    {
                        channel ??= await connection!.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), abort);
                        await channel.BasicPublishAsync(SubmitOrderType, string.Empty, mandatory: false, Properties(id), body, abort);
                        confirmed.TryAdd(id, clock.ElapsedTicks);
                        break;
                    }
                    catch (Exception exception) when (exception is not OperationCanceledException && since.Elapsed < GiveUp)
                    {
                        // Not confirmed (nack, closed channel or connection): publish the same id again on a fresh channel.
                        Interlocked.Increment(ref resent);
                        await DisposeQuietlyAsync(channel);
                        channel = null;
                        await Task.Delay(100 + (50 * Math.Min(attempt, 10)), abort);
                    }
                }
            }
        }
        finally
        {
            await DisposeQuietlyAsync(channel);
        }
    }

    private static async Task DisposeQuietlyAsync(IChannel? channel)
    {
        if (channel is null)
        {
            return;
        }

        try
        {
            await channel.DisposeAsync();
        }
        catch (Exception) when (channel is not null)
        {
        }
    }
}
