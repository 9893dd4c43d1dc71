namespace Workers.Sample.Contracts;

/// <summary>A customer submitted an order: charge the payment and accept it.</summary>
public sealed record SubmitOrder(Guid OrderId, string CustomerId, decimal Amount);

/// <summary>The order was paid and accepted.</summary>
public sealed record OrderAccepted(Guid OrderId, string CustomerId, decimal Amount, string PaymentId);
