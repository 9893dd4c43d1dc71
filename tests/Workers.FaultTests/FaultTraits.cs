namespace Workers.FaultTests;

/// <summary>
/// Which broker versions a scenario runs on. Every scenario on the private node runs on RabbitMQ 3.10 and, in the
/// second run of <c>scripts/test.sh</c> (<c>WORKERS_PRIVATE_BROKER=4.0</c>), on 4.0 with quorum queues. A scenario whose
/// subject is not the broker, or that needs a topology only 3.10 has here, is marked <see cref="SingleVersion"/> and
/// filtered out of the 4.0 run (<c>--filter FaultBroker!=3.10-only</c>), so that the second run costs only what it proves.
/// </summary>
internal static class FaultTraits
{
    /// <summary>The trait's name.</summary>
    public const string Broker = "FaultBroker";

    /// <summary>Runs on RabbitMQ 3.10 only: the database failover (scenario 6), the worker's own soak (10), the 3.10 cluster (3).</summary>
    public const string SingleVersion = "3.10-only";
}
