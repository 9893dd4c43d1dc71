namespace Workers.Postgres.Outbox;

/// <summary>Test seams of the dispatcher (a dispatcher "killed" between publish and mark).</summary>
internal sealed class OutboxDispatcherHooks
{
    /// <summary>Runs after a batch was confirmed by the broker and before it is marked dispatched.</summary>
    public Func<IReadOnlyList<Guid>, CancellationToken, Task>? AfterPublish { get; set; }
}
