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
    /// The outbox workload: <paramref name="count"/> messages stored in PostgreSQL in the same transaction as a
    /// business row, then relayed to RabbitMQ and consumed. Returns messages per second, or null when the
    /// contender has no outbox (yet).
    /// </summary>
    public virtual Task<double?> RunOutboxAsync(BenchVhost vhost, string queue, int count, int window, CancellationToken cancellationToken) =>
        Task.FromResult<double?>(null);

    /// <summary>Why <see cref="RunOutboxAsync"/> or the failure workload is not measured, for the report.</summary>
    public virtual string? NotMeasuredNote => null;
}

/// <summary>A started producer: each publish completes when the broker has confirmed it.</summary>
internal interface IBenchProducer : IAsyncDisposable
{
    Task PublishAsync(BenchMessage message, CancellationToken cancellationToken);
}
