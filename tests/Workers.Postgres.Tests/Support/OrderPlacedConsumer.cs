using System.Collections.Concurrent;
using MassTransit;

namespace Workers.Postgres.Tests.Support;

/// <summary>Writes an effect row with the DbContext it is given; optionally publishes a follow-up through the outbox.</summary>
public sealed class OrderPlacedConsumer(TestDb db, IWorkersOutbox outbox, ConsumerProbe probe) : IConsumer<OrderPlaced>
{
    public Task Consume(ConsumeContext<OrderPlaced> context)
    {
        probe.Record(context.Message, db.Database.CurrentTransaction is not null);
        db.Effects.Add(new Effect { Run = context.Message.Run, Number = context.Message.Number, Key = context.Message.Key, MessageId = context.MessageId!.Value });
        if (context.Message.FollowUp)
        {
            outbox.Publish(new OrderShipped(context.Message.Run, context.Message.Number));
        }

        return Task.CompletedTask;
    }
}

public sealed class OrderShippedConsumer(ConsumerProbe probe) : IConsumer<OrderShipped>
{
    public Task Consume(ConsumeContext<OrderShipped> context)
    {
        probe.Shipped(context.Message, new ShippedContext(context.ConversationId, context.CorrelationId, context.InitiatorId, System.Diagnostics.Activity.Current?.TraceId, context.Headers.GetAll().Any(h => h.Key.StartsWith("Workers-Outbox-", StringComparison.Ordinal))));
        return Task.CompletedTask;
    }
}

/// <summary>What the consumers saw (in memory, shared by the hosts of one test).</summary>
public sealed class ConsumerProbe
{
    private int outsideTransaction;

    public ConcurrentQueue<OrderPlaced> Runs { get; } = new();

    public ConcurrentQueue<OrderShipped> ShippedMessages { get; } = new();

    public int OutsideTransaction => Volatile.Read(ref outsideTransaction);

    /// <summary>Raised when a consumer runs (a signal for tests, instead of polling).</summary>
    public event Action<OrderPlaced>? Consumed;

    public void Record(OrderPlaced message, bool inTransaction)
    {
        if (!inTransaction)
        {
            Interlocked.Increment(ref outsideTransaction);
        }

        Runs.Enqueue(message);
        Consumed?.Invoke(message);
    }

    /// <summary>The ids and the trace each OrderShipped arrived with.</summary>
    public ConcurrentDictionary<OrderShipped, ShippedContext> ShippedContexts { get; } = new();

    public void Shipped(OrderShipped message, ShippedContext context)
    {
        ShippedContexts[message] = context;
        ShippedMessages.Enqueue(message);
    }
}

/// <summary>What an OrderShipped carried: its conversation, correlation and initiator ids, the consumer's trace, and whether any outbox-reserved header reached the wire.</summary>
public sealed record ShippedContext(Guid? ConversationId, Guid? CorrelationId, Guid? InitiatorId, System.Diagnostics.ActivityTraceId? TraceId, bool ReservedHeaders);
