namespace Workers.Resilience.Broker;

/// <summary>
/// The delivery limit of the quorum queues Workers declares (endpoint, <c>_error</c>, <c>_skipped</c>). RabbitMQ 4.0–4.2
/// give every quorum queue a limit of 20 returns by default and then drop the message; Workers returns messages on purpose
/// (open breaker, bulkhead overflow, shutdown, every <c>workers dlq</c> read), so its queues set a limit no return count reaches.
/// <para>
/// Why not <c>-1</c> ("unlimited" on 4.x): RabbitMQ 3.10.8 accepts it and then drops a message at its first return
/// (verified on both brokers, as <c>0</c> does on both). <see cref="int.MaxValue"/> keeps a message on 3.10.8 and 4.0.5 alike.
/// </para>
/// </summary>
internal static class QuorumQueueArguments
{
    /// <summary>The queue argument.</summary>
    public const string DeliveryLimit = "x-delivery-limit";

    /// <summary>The limit Workers declares: 2^31 − 1 returns.</summary>
    public const int UnreachableDeliveryLimit = int.MaxValue;

    /// <summary>The lowest effective limit the broker preflight accepts (a policy can lower the declared one).</summary>
    public const long MinimumDeliveryLimit = 1_000_000;
}
