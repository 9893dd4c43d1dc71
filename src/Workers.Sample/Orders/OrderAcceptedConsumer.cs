using MassTransit;
using Workers.Sample.Contracts;
using Workers.Sample.Data;

namespace Workers.Sample.Orders;

/// <summary>Notifies the customer that the order was accepted (here: records the notification, once).</summary>
public sealed class OrderAcceptedConsumer(OrderLedger ledger, SampleDbContext db, TimeProvider time) : IConsumer<OrderAccepted>
{
    /// <inheritdoc />
    public Task Consume(ConsumeContext<OrderAccepted> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        db.Effects.Add(new OrderEffect { OrderId = context.Message.OrderId, Kind = "notified", MessageId = context.MessageId, AppliedAt = time.GetUtcNow() });
        ledger.RecordNotified(context.Message.OrderId);
        return Task.CompletedTask;
    }
}
