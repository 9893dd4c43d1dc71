namespace Workers.FaultTests;

/// <summary>
/// The broker a scenario runs on: the suite's private node (<see cref="FaultNode"/>) or a local cluster
/// (<see cref="ClusterBroker"/>). Each scenario gets its own vhost on it.
/// </summary>
internal interface IFaultBroker
{
    /// <summary>Starts the broker again when a previous scenario left it down.</summary>
    Task EnsureRunningAsync(CancellationToken cancellationToken);

    /// <summary>Creates a vhost with full permissions for guest.</summary>
    Task CreateVhostAsync(string vhost, CancellationToken cancellationToken);

    /// <summary>Deletes a vhost (best effort: the broker may be down).</summary>
    Task DeleteVhostAsync(string vhost);

    /// <summary>
    /// The vhost's queues as the broker counts them (ready, unacknowledged, consumers), one per line, for a failure
    /// message: where a message the accounting misses may still be held.
    /// </summary>
    Task<string> DescribeQueuesAsync(string vhost, CancellationToken cancellationToken);

    /// <summary>AMQP URI of the vhost for the test's own clients (producer, observer).</summary>
    Uri ClientUri(string vhost);

    /// <summary>AMQP URI of the vhost for the workers.</summary>
    Uri WorkerUri(string vhost);

    /// <summary>Worker settings (environment variables) the broker needs beyond the URI: cluster nodes, queue type.</summary>
    IReadOnlyDictionary<string, string> WorkerSettings { get; }

    /// <summary>Arguments of the observer's audit queue (e.g. quorum on a cluster, so that it outlives a node), or null.</summary>
    IDictionary<string, object?>? AuditQueueArguments { get; }

    /// <summary>Arguments the workers declare their dead-letter queues with (quorum endpoints: see <see cref="FaultQueues"/>), or null (classic).</summary>
    IDictionary<string, object?>? DeadLetterQueueArguments { get; }
}
