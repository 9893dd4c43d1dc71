namespace Workers.FaultTests;

/// <summary>Queue shapes the workers declare, which the test's own clients must declare identically.</summary>
internal static class FaultQueues
{
    /// <summary>
    /// A quorum endpoint's <c>_error</c> and <c>_skipped</c>: MassTransit copies the endpoint's arguments onto them and the
    /// dead-letter stage declares <c>_error</c> the same way — quorum, with the delivery limit no return count reaches
    /// (<c>Workers.Resilience.Broker.QuorumQueueArguments</c>: <c>x-delivery-limit</c> = 2^31 − 1, an int).
    /// </summary>
    public static Dictionary<string, object?> QuorumDeadLetterArguments() => new()
    {
        ["x-queue-type"] = "quorum",
        ["x-delivery-limit"] = int.MaxValue,
    };
}
