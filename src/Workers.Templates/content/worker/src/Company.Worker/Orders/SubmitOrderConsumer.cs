using MassTransit;

namespace Company.Worker.Orders;

/// <summary>
/// Consumes <see cref="SubmitOrder"/>. An exception that is transient (a timeout, an unavailable dependency) is
/// redelivered by Workers through the broker with exponential backoff; a permanent one goes to the
/// <c>submit-order_error</c> queue at once, with its full fault details, to be inspected and replayed with the
/// <c>workers</c> CLI. Permanent: Workers' built-in ones (<c>PermanentFailureException</c>, validation and
/// deserialization failures) and those listed in <c>Workers:Endpoints:submit-order:Redelivery:Classification</c> in
/// appsettings.json — here <see cref="ArgumentException"/> and its kind, an invalid message.
/// </summary>
public sealed partial class SubmitOrderConsumer(ILogger<SubmitOrderConsumer> logger) : IConsumer<SubmitOrder>
{
    public Task Consume(ConsumeContext<SubmitOrder> context)
    {
        var order = context.Message;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(order.Amount, nameof(order.Amount));
        ArgumentException.ThrowIfNullOrWhiteSpace(order.CustomerId, nameof(order.CustomerId));

        // Your work here: make it idempotent (a message can arrive more than once), or use WorkersFx.Postgres's
        // inbox, which applies each message's effects exactly once.
        Accepted(logger, order.OrderId, order.CustomerId, order.Amount);
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Order {OrderId} of {CustomerId} for {Amount} accepted")]
    private static partial void Accepted(ILogger logger, Guid orderId, string customerId, decimal amount);
}
