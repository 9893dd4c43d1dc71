using RabbitMQ.Client;
using Workers.Cli.Broker;

namespace Workers.Cli.DeadLetters;

/// <summary>
/// The messages of a dead-letter queue, read without losing or reordering any: each is fetched with
/// <c>basic.get</c> and held unacknowledged on one channel. Acknowledging one removes it; releasing
/// (<c>basic.nack</c>, requeue) returns the rest, which a classic queue puts back at their original positions;
/// if the process dies, the broker does the same when the connection drops.
/// Only the messages present when the snapshot is taken are read, so the set is fixed for the whole run.
/// </summary>
internal sealed class DeadLetterSnapshot : IAsyncDisposable
{
    private static readonly TimeSpan RequeueWait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RequeuePollInterval = TimeSpan.FromMilliseconds(50);
    private readonly IChannel channel;
    private readonly TimeProvider time;
    private readonly List<DeadLetterMessage> messages = [];
    private readonly HashSet<ulong> settled = [];
    private ulong highestTag;

    private DeadLetterSnapshot(IChannel channel, string queue, uint consumers, TimeProvider time)
    {
        this.channel = channel;
        this.time = time;
        Queue = queue;
        Consumers = consumers;
    }

    public string Queue { get; }

    /// <summary>Consumers on the dead-letter queue when it was read (they may hold messages the snapshot cannot see).</summary>
    public uint Consumers { get; }

    /// <summary>Messages in the queue when the snapshot was taken (ready ones).</summary>
    public long TotalAtStart { get; private set; }

    public IReadOnlyList<DeadLetterMessage> Messages => messages;

    public static async Task<DeadLetterSnapshot> TakeAsync(BrokerClient broker, string queue, int? limit, TimeProvider time, CancellationToken cancellationToken)
    {
        var state = await broker.RequireQueueAsync(queue, cancellationToken);
        var channel = await broker.OpenChannelAsync(cancellationToken);
        var snapshot = new DeadLetterSnapshot(channel, queue, state.ConsumerCount, time) { TotalAtStart = state.MessageCount };
        try
        {
            var wanted = limit is { } max ? Math.Min(max, state.MessageCount) : state.MessageCount;
            for (var i = 0; i < wanted; i++)
            {
                var result = await channel.BasicGetAsync(queue, autoAck: false, cancellationToken);
                if (result is null)
                {
                    break;
                }

                snapshot.Track(result.DeliveryTag);
                snapshot.messages.Add(new DeadLetterMessage(result.DeliveryTag, result.BasicProperties, result.Body.ToArray(), i));
            }
        }
        catch
        {
            await snapshot.DisposeAsync();
            throw;
        }

        return snapshot;
    }

    /// <summary>Fetches one more message that arrived after the snapshot (held like the others), or null.</summary>
    public async Task<DeadLetterMessage?> FetchNewAsync(CancellationToken cancellationToken)
    {
        var result = await channel.BasicGetAsync(Queue, autoAck: false, cancellationToken);
        if (result is null)
        {
            return null;
        }

        Track(result.DeliveryTag);
        return new DeadLetterMessage(result.DeliveryTag, result.BasicProperties, result.Body.ToArray(), -1);
    }

    /// <summary>Removes one message from the queue for good.</summary>
    public async Task RemoveAsync(DeadLetterMessage message, CancellationToken cancellationToken)
    {
        await channel.BasicAckAsync(message.DeliveryTag, multiple: false, cancellationToken);
        settled.Add(message.DeliveryTag);
    }

    /// <summary>
    /// Puts every message still held back in the queue, in its original position, and waits until the broker has
    /// done so: the broker requeues asynchronously (thousands of messages take a noticeable time), and a command
    /// started right after this one must see the whole queue again.
    /// </summary>
    public async Task<bool> ReleaseAsync(CancellationToken cancellationToken)
    {
        if (highestTag == 0 || !channel.IsOpen || settled.Count >= (int)highestTag)
        {
            highestTag = 0;
            return true;
        }

        await channel.BasicNackAsync(highestTag, multiple: true, requeue: true, cancellationToken);
        highestTag = 0;
        var expected = TotalAtStart - settled.Count;
        var started = time.GetTimestamp();
        while ((await channel.QueueDeclarePassiveAsync(Queue, cancellationToken)).MessageCount < expected)
        {
            if (time.GetElapsedTime(started) > RequeueWait)
            {
                return false;
            }

            await Task.Delay(RequeuePollInterval, time, cancellationToken);
        }

        return true;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ReleaseAsync(CancellationToken.None);
        }
        catch (Exception exception) when (exception is RabbitMQ.Client.Exceptions.AlreadyClosedException or RabbitMQ.Client.Exceptions.OperationInterruptedException or IOException)
        {
            // Closing the channel below returns the messages all the same.
        }

        await BrokerClient.CloseQuietlyAsync(channel);
    }

    private void Track(ulong tag) => highestTag = Math.Max(highestTag, tag);
}
