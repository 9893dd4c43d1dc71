namespace Workers.Resilience.Classification;

/// <summary>
/// The failures that mean "put the message back in the queue untouched": not an attempt, not a fault.
/// They are the circuit breaker's and the bulkhead's own signals, the redelivery stage's own signal that the
/// broker did not take a message's delayed copy, the inbox's signal that its database is unavailable
/// (<see cref="DependencyUnavailableException"/>), and cancellation because the endpoint is stopping. MassTransit's error pipe lets an <see cref="OperationCanceledException"/> through and the RabbitMQ
/// transport then nacks the delivery with requeue. Any other cancellation — an <c>HttpClient</c> timeout
/// raising <see cref="TaskCanceledException"/>, say — is an ordinary transient failure, so that it is
/// counted and redelivered with backoff instead of spinning in the queue.
/// </summary>
internal static class RequeueSignal
{
    public static bool IsRequeue(Exception exception, CancellationToken messageToken) =>
        exception is CircuitBreakerOpenException or DeferredDeliveryException or BulkheadRejectedException or RedeliveryUnavailableException or DependencyUnavailableException
        || (exception is OperationCanceledException && messageToken.IsCancellationRequested);
}
