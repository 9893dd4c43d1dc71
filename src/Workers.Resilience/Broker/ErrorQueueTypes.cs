using System.Collections.Concurrent;

namespace Workers.Resilience.Broker;

/// <summary>
/// The error queues that are quorum queues: those of quorum endpoints, as MassTransit declares them. The dead-letter
/// stage declares them alike, so that whoever declares one first, the other's declaration is equivalent (RabbitMQ
/// refuses a declaration of another queue type with 406). A DI singleton filled while the endpoints are configured.
/// </summary>
internal sealed class ErrorQueueTypes
{
    private readonly ConcurrentDictionary<string, bool> quorum = new(StringComparer.Ordinal);

    public void UseQuorum(string errorQueue) => quorum[errorQueue] = true;

    public bool IsQuorum(string errorQueue) => quorum.ContainsKey(errorQueue);
}
