using Xunit;

namespace Workers.Hosting.Tests.Broker;

public sealed class DeadLetterQueuePreflightTests
{
    [Fact]
    public void Describe_NamesEveryRefusedQueue_ItsEndpoint_TheExpectedShape_AndTheBrokersReason()
    {
        var message = DeadLetterQueuePreflight.Describe(
            [
                ("orders_skipped", "orders", QueueType.Quorum, "PRECONDITION_FAILED - inequivalent arg 'x-queue-type'"),
                ("payments_error", "payments", QueueType.Classic, "PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit'"),
            ],
            "127.0.0.1:5672/prod");

        Assert.Contains("127.0.0.1:5672/prod has 2 dead-letter queues", message, StringComparison.Ordinal);
        Assert.Contains("'orders_skipped' of endpoint 'orders' (quorum, x-delivery-limit 2147483647 expected): PRECONDITION_FAILED - inequivalent arg 'x-queue-type'", message, StringComparison.Ordinal);
        Assert.Contains("'payments_error' of endpoint 'payments' (classic expected): PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit'", message, StringComparison.Ordinal);
        Assert.Contains("Workers:Endpoints:<queue>:QueueType", message, StringComparison.Ordinal);
    }
}
