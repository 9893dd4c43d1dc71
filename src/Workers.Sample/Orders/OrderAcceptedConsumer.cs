using MassTransit;
using Workers.Sample.Contracts;

namespace Workers.Sample.Orders;

/// <summary>Notifies the customer that the order was accepted (here: records it).</summary>
public sealed class OrderAcceptedConsumer(OrderLedger ledger) : IConsumer<OrderAccepted>
{
    /// <inheritdoc />
    public Task Consume(ConsumeContext<OrderAccepted> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        ledger.RecordNotified(context.Message.OrderId);
        return Task.CompletedTask;
    }
}
