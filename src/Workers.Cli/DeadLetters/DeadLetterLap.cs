using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Workers.Cli.Broker;

namespace Workers.Cli.DeadLetters;

/// <summary>
/// One pass over a dead-letter queue in bounded batches: the messages ready when the lap starts are read from the
/// head with <c>basic.get</c>, at most one batch held unacknowledged (and in memory) at a time, and each is settled
/// before the next batch is read:
/// <list type="bullet">
/// <item><b>keep</b>: republished byte for byte (same body, properties and headers, minus the broker's
/// <c>x-delivery-count</c>) to the tail of the same queue with a publisher confirm, and only then acknowledged: the
/// message stays in the queue without a redelivery (a quorum queue counts none), and after a full lap the kept
/// messages are back in their original order;</item>
/// <item><b>move</b>: published to another queue with a publisher confirm, then acknowledged;</item>
/// <item><b>remove</b>: acknowledged.</item>
/// </list>
/// A crash at any point loses nothing: a message not yet acknowledged returns to the queue when the connection
/// drops; one whose copy was confirmed but not yet acknowledged is then in both places (a duplicate the inbox
/// absorbs: the message id is kept). The lap ends after as many messages as were ready at its start: arrivals and
/// this lap's own copies come after them. A consumer of the queue taking messages during the lap shifts that count
/// (a warning is printed when the queue has consumers).
/// </summary>
internal sealed class DeadLetterLap : IAsyncDisposable
{
    public const int DefaultBatchSize = 500;
    public const int MaxBatchSize = 10_000;

    /// <summary>Set by quorum queues on each delivery: an artefact of the delivery, not of the message.</summary>
    public const string DeliveryCountHeader = "x-delivery-count";

    /// <summary>Publishes awaiting their confirms at once; each message is still acknowledged only after its own confirm.</summary>
    private const int ConfirmWindow = 100;

    private readonly IChannel channel;
    private readonly int batchSize;
    private readonly List<DeadLetterMessage> batch = [];
    private readonly HashSet<ulong> settled = [];
    private ulong highestTag;
    private bool stopped;

    private DeadLetterLap(IChannel channel, string queue, long total, uint consumers, int batchSize)
    {
        this.channel = channel;
        this.batchSize = batchSize;
        Queue = queue;
        TotalAtStart = total;
        Consumers = consumers;
    }

    public string Queue { get; }

    /// <summary>Ready messages when the lap started: the lap reads at most this many.</summary>
    public long TotalAtStart { get; }

    /// <summary>Consumers on the queue when the lap started (they may hold messages the lap cannot see).</summary>
    public uint Consumers { get; }

    /// <summary>Messages read so far.</summary>
    public long Read { get; private set; }

    /// <summary>The largest number of messages held unacknowledged at once during the lap.</summary>
    public int PeakHeld { get; private set; }

    public static async Task<DeadLetterLap> StartAsync(BrokerClient broker, string queue, int batchSize, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var state = await broker.RequireQueueAsync(queue, cancellationToken);
        var channel = await broker.OpenConfirmedChannelAsync(cancellationToken);
        return new DeadLetterLap(channel, queue, state.MessageCount, state.ConsumerCount, batchSize);
    }

    /// <summary>
    /// The next batch of the lap (every message of the previous batch must be settled), or an empty list when the lap
    /// is over (all messages ready at its start read, the queue empty, or the lap stopped).
    /// </summary>
    public async Task<IReadOnlyList<DeadLetterMessage>> NextBatchAsync(CancellationToken cancellationToken)
    {
        if (stopped)
        {
            return [];
        }

        if (batch.Any(m => !settled.Contains(m.DeliveryTag)))
        {
            throw new InvalidOperationException("settle every message of a batch before reading the next one.");
        }

        batch.Clear();
        settled.Clear();

        var wanted = Math.Min(batchSize, TotalAtStart - Read);
        for (var i = 0; i < wanted; i++)
        {
            var result = await channel.BasicGetAsync(Queue, autoAck: false, cancellationToken);
            if (result is null)
            {
                stopped = true;
                break;
            }

            highestTag = Math.Max(highestTag, result.DeliveryTag);
            batch.Add(new DeadLetterMessage(result.DeliveryTag, result.BasicProperties, result.Body.ToArray(), checked((int)Read)));
            Read++;
        }

        PeakHeld = Math.Max(PeakHeld, batch.Count);
        return batch;
    }

    /// <summary>Ends the lap early: no further batch is read (the current one must still be settled or is returned on dispose).</summary>
    public void Stop() => stopped = true;

    /// <summary>
    /// Settles the messages of the current batch as decided, in order: confirmed publishes (in windows of up to 100, or
    /// one by one for moves when <paramref name="oneMoveAtATime"/>), each message acknowledged after its own confirm.
    /// Stops at the first publish the broker refuses or cannot route; that message and the rest stay unacknowledged
    /// (returned to the queue on dispose) and the lap ends.
    /// </summary>
    public async Task<SettleOutcome> SettleAsync(IReadOnlyList<Decision> decisions, Pacer? pacer, bool oneMoveAtATime, CancellationToken cancellationToken)
    {
        var pending = new List<(Decision Decision, Task Confirmed)>(ConfirmWindow);
        var outcome = new SettleOutcome();
        foreach (var decision in decisions)
        {
            if (decision.Kind == DecisionKind.Remove)
            {
                await AckAsync(decision.Message, cancellationToken);
                outcome.Removed++;
                continue;
            }

            var move = decision.Kind == DecisionKind.Move;
            if (move && oneMoveAtATime && !await FlushAsync(pending, outcome, cancellationToken))
            {
                break;
            }

            if (move && pacer is not null)
            {
                await pacer.WaitAsync(cancellationToken);
            }

            var (target, properties) = move ? (decision.Target!, decision.Properties!) : (Queue, KeepProperties(decision.Message.Properties));

            // mandatory: a message the broker cannot route is a failure, not a silent drop.
            pending.Add((decision, channel.BasicPublishAsync(string.Empty, target, mandatory: true, properties, decision.Message.Body, cancellationToken).AsTask()));
            if ((pending.Count >= ConfirmWindow || (move && oneMoveAtATime)) && !await FlushAsync(pending, outcome, cancellationToken))
            {
                break;
            }
        }

        await FlushAsync(pending, outcome, cancellationToken);
        if (outcome.Failure is not null)
        {
            stopped = true;
        }

        return outcome;
    }

    /// <summary>The properties of a kept message's copy: the original's, byte for byte, without the broker's delivery counter.</summary>
    internal static BasicProperties KeepProperties(IReadOnlyBasicProperties original)
    {
        var properties = new BasicProperties(original);
        if (original.Headers is { } headers && headers.ContainsKey(DeliveryCountHeader))
        {
            properties.Headers = headers.Where(h => h.Key != DeliveryCountHeader).ToDictionary(h => h.Key, h => h.Value, StringComparer.Ordinal);
        }

        return properties;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            // Return what is still held (an error mid-batch): at its original position in a classic queue.
            if (channel.IsOpen && batch.Any(m => !settled.Contains(m.DeliveryTag)) && highestTag > 0)
            {
                await channel.BasicNackAsync(highestTag, multiple: true, requeue: true, CancellationToken.None);
            }
        }
        catch (Exception exception) when (exception is AlreadyClosedException or OperationInterruptedException or IOException)
        {
            // Closing the channel below returns the messages all the same.
        }

        await BrokerClient.CloseQuietlyAsync(channel);
    }

    private async Task<bool> FlushAsync(List<(Decision Decision, Task Confirmed)> pending, SettleOutcome outcome, CancellationToken cancellationToken)
    {
        foreach (var (decision, confirmed) in pending)
        {
            try
            {
                await confirmed;
            }
            catch (PublishException exception)
            {
                var target = decision.Kind == DecisionKind.Move ? decision.Target! : Queue;
                outcome.Failed++;
                outcome.Failure ??= exception.IsReturn ? $"'{target}' could not be routed to" : $"the broker refused the message for '{target}'";
                continue;
            }

            // Confirmed (also after another one failed: its copy is in place), so it goes.
            await AckAsync(decision.Message, cancellationToken);
            Count(decision, outcome);
        }

        pending.Clear();
        return outcome.Failure is null;
    }

    private static void Count(Decision decision, SettleOutcome outcome)
    {
        if (decision.Kind == DecisionKind.Move)
        {
            outcome.Moved++;
        }
        else
        {
            outcome.Kept++;
        }
    }

    private async Task AckAsync(DeadLetterMessage message, CancellationToken cancellationToken)
    {
        await channel.BasicAckAsync(message.DeliveryTag, multiple: false, cancellationToken);
        settled.Add(message.DeliveryTag);
    }
}

internal enum DecisionKind
{
    Keep,
    Move,
    Remove,
}

/// <summary>What to do with one message of a lap's batch.</summary>
internal sealed record Decision(DeadLetterMessage Message, DecisionKind Kind, string? Target = null, BasicProperties? Properties = null)
{
    public static Decision Keep(DeadLetterMessage message) => new(message, DecisionKind.Keep);

    public static Decision Remove(DeadLetterMessage message) => new(message, DecisionKind.Remove);

    public static Decision Move(DeadLetterMessage message, string target, BasicProperties properties) => new(message, DecisionKind.Move, target, properties);
}

/// <summary>What settling a batch did.</summary>
internal sealed class SettleOutcome
{
    public int Kept { get; set; }

    public int Moved { get; set; }

    public int Removed { get; set; }

    public int Failed { get; set; }

    /// <summary>Why the batch stopped (a refused or unroutable publish), or null.</summary>
    public string? Failure { get; set; }
}
