using HdrHistogram;
using Workers.Benchmarks.Infrastructure;

namespace Workers.Benchmarks.Contenders;

/// <summary>
/// One way of moving <see cref="BenchMessage"/>s through RabbitMQ with the same guarantees: persistent messages,
/// publisher confirms, and manual acks after the consumer has run. The runner drives every contender through the
/// same workloads; a contender only knows how to start a producer and a consumer on a queue of its vhost.
/// </summary>
internal abstract class Contender
{
    /// <summary>Short name used on the command line and in the report.</summary>
    public abstract string Name { get; }

    /// <summary>How it is configured (prefetch, concurrency, modes), for the report.</summary>
    public abstract string Settings { get; }

    /// <summary>Starts a producer on <paramref name="vhost"/> that sends to <paramref name="queue"/>.</summary>
    public abstract Task<IBenchProducer> StartProducerAsync(BenchVhost vhost, string queue, CancellationToken cancellationToken);

    /// <summary>
    /// Starts consuming <paramref name="queue"/> (declaring it when needed), handing every delivery to
    /// <paramref name="probe"/>; with <paramref name="failures"/>, a failed delivery is retried the contender's way.
    /// Returns once the consumer is ready; disposing it stops the consumer.
    /// </summary>
    public abstract Task<IAsyncDisposable> StartConsumerAsync(BenchVhost vhost, string queue, ConsumeProbe probe, bool failures, CancellationToken cancellationToken);

    /// <summary>Whether this contender runs the failure workload now.</summary>
    public virtual bool SupportsFailures => true;

    /// <summary>
    /// The outbox workloads: messages stored in PostgreSQL in the same transaction as a business row, then relayed
    /// to RabbitMQ and consumed. Returns what the contender measured, or null when it has no outbox.
    /// </summary>
    public virtual Task<OutboxResult?> RunOutboxAsync(BenchVhost vhost, string queue, OutboxWorkload workload, CancellationToken cancellationToken) =>
        Task.FromResult<OutboxResult?>(null);

    /// <summary>Releases what the contender kept across measurements (a database); called once at the end.</summary>
    public virtual ValueTask CleanupAsync() => ValueTask.CompletedTask;

    /// <summary>Why <see cref="RunOutboxAsync"/> or the failure workload is not measured, for the report.</summary>
    public virtual string? NotMeasuredNote => null;
}

/// <summary>A started producer: each publish completes when the broker has confirmed it.</summary>
internal interface IBenchProducer : IAsyncDisposable
{
    Task PublishAsync(BenchMessage message, CancellationToken cancellationToken);
}

/// <summary>What the outbox workloads do, the same for every contender.</summary>
/// <param name="Count">Transactions of the end-to-end and enqueue workloads.</param>
/// <param name="Window">Transactions in flight at once.</param>
/// <param name="Backlog">Rows enqueued with the relay stopped, then drained.</param>
/// <param name="LatencyRate">Fixed rate (transactions per second) of the commit→consume latency workload.</param>
/// <param name="LatencySeconds">How long that rate is offered.</param>
internal sealed record OutboxWorkload(int Count, int Window, int Backlog, double LatencyRate, int LatencySeconds);

/// <summary>What one contender's outbox measured; null where it was not measured.</summary>
/// <param name="EndToEnd">Transactions committed while the relay runs, first commit to last consume (msg/s).</param>
/// <param name="Enqueue">Transactions (business row + outbox row) committed per second with the relay stopped.</param>
/// <param name="RelayDrain">A backlog relayed to the broker and consumed: first to last consume (msg/s).</param>
/// <param name="Latency">Commit returned → consumed, at <see cref="OutboxWorkload.LatencyRate"/> (µs).</param>
internal sealed record OutboxResult(double EndToEnd, double? Enqueue = null, double? RelayDrain = null, LongHistogram? Latency = null);
