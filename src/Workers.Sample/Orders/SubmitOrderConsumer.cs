using System.ComponentModel.DataAnnotations;
using MassTransit;
using Workers.Sample.Contracts;
using Workers.Sample.Payments;

namespace Workers.Sample.Orders;

/// <summary>Validates the order, charges the payment provider, and publishes <see cref="OrderAccepted"/>.</summary>
public sealed class SubmitOrderConsumer(IPaymentGateway payments, OrderLedger ledger) : IConsumer<SubmitOrder>
{
    /// <inheritdoc />
    public async Task Consume(ConsumeContext<SubmitOrder> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var order = context.Message;
        ledger.RecordAttempt(order.OrderId);

        if (order.Amount <= 0)
        {
            // A permanent failure: no retry can fix it, so it is dead-lettered at once.
            throw new ValidationException($"Order {order.OrderId}: the amount must be positive (was {order.Amount}).");
        }

        if (string.IsNullOrWhiteSpace(order.CustomerId))
        {
            throw new ValidationException($"Order {order.OrderId}: the customer is missing.");
        }

        var paymentId = await payments.ChargeAsync(order.OrderId, order.CustomerId, order.Amount, context.CancellationToken);
        ledger.RecordAccepted(order.OrderId);
        await context.Publish(new OrderAccepted(order.OrderId, order.CustomerId, order.Amount, paymentId), context.CancellationToken);
    }
}
