namespace Company.Worker.Orders;

/// <summary>The message the worker consumes. Its MassTransit type is <c>urn:message:Company.Worker.Orders:SubmitOrder</c>.</summary>
public sealed record SubmitOrder(Guid OrderId, string CustomerId, decimal Amount);
