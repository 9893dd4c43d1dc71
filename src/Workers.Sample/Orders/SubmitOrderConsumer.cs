using System.ComponentModel.DataAnnotations;
using MassTransit;
using Workers.Postgres;
using Workers.Sample.Contracts;
using Workers.Sample.Data;
using Workers.Sample.Payments;

namespace Workers.Sample.Orders;

/// <summary>
/// Validates the order, charges the payment provider, records the acceptance and publishes
/// <see cref="OrderAccepted"/> through the outbox — the effect and the event commit together, once, in the
/// inbox's transaction (a redelivered duplicate is acknowledged without running this again).
/// </summary>
public sealed class SubmitOrderConsumer(IPaymentGateway payments, OrderLedger ledger, SampleDbContext db, IWorkersOutbox outbox, TimeProvider time) : IConsumer<SubmitOrder>
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
        db.Effects.Add(new OrderEffect { OrderId = order.OrderId, Kind = "accepted", MessageId = context.MessageId, AppliedAt = time.GetUtcNow() });
        outbox.Publish(new OrderAccepted(order.OrderId, order.CustomerId, order.Amount, paymentId));
        ledger.RecordAccepted(order.OrderId);
    }
}
