using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Workers.Postgres.FailureStore;
using Workers.Resilience.Telemetry;

namespace Workers.Hosting;

/// <summary>Where a batch is in <see cref="DeadLetterIngestion"/> (for tests that kill the ingester there).</summary>
internal enum IngestionPoint
{
    /// <summary>The batch's deliveries are read, nothing is written yet.</summary>
    BatchRead,

    /// <summary>The batch is committed to the store, not yet acknowledged to the broker.</summary>
    Committed,

    /// <summary>The batch is acknowledged.</summary>
    Acknowledged,
}

/// <summary>
/// Ingests one dead-letter queue into the failure store: consumes it with a prefetch of two batches, takes what has
/// arrived (up to <c>BatchSize</c>) as a batch, inserts it in one transaction (<see cref="FailureStoreWriter"/>,
/// idempotent), and only after the commit acknowledges the batch (one multiple-ack up to its last delivery). Killed
/// anywhere, nothing is lost: what was not acknowledged returns to the queue; what was committed but not acknowledged
/// comes again and inserts nothing.
/// </summary>
internal sealed class DeadLetterIngestion
{
    private static readonly Counter<long> Ingested = WorkersDiagnostics.Meter.CreateCounter<long>("workers.failurestore.ingested", "{message}", "Dead letters committed to the failure store (new rows).");
    private static readonly Counter<long> Duplicates = WorkersDiagnostics.Meter.CreateCounter<long>("workers.failurestore.duplicates", "{message}", "Dead letters ingested again after a commit whose ack was lost: already stored, acknowledged without a new row.");
    private static readonly Counter<long> Failures = WorkersDiagnostics.Meter.CreateCounter<long>("workers.failurestore.failures", "{failure}", "Failed ingestion attempts (database or broker); the batch stays in its queue.");

    private readonly FailureStoreWriter writer;
    private readonly int batchSize;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly Func<IngestionPoint, CancellationToken, Task>? at;
    private long inserted;
    private long duplicates;

    public DeadLetterIngestion(string deadLetterQueue, FailureStoreWriter writer, int batchSize, TimeProvider time, ILogger logger, Func<IngestionPoint, CancellationToken, Task>? at = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(deadLetterQueue);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batchSize, FailureStoreOptions.MaxBatchSize);
        Queue = deadLetterQueue;
        this.writer = writer;
        this.batchSize = batchSize;
        this.time = time;
        this.logger = logger;
        this.at = at;
    }

    /// <summary>The dead-letter queue.</summary>
    public string Queue { get; }

    /// <summary>New rows committed so far.</summary>
    public long Inserted => Interlocked.Read(ref inserted);

    /// <summary>Deliveries ingested again that were stored already.</summary>
    public long DuplicatesAbsorbed => Interlocked.Read(ref duplicates);

    /// <summary>Consumed failed attempts since the last committed batch (for the recovery log).</summary>
    public int ConsecutiveFailures { get; private set; }

    /// <summary>Ingests until <paramref name="cancellationToken"/> or the channel fails (then throws; the caller retries).</summary>
    public async Task RunAsync(IConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var channelDisposal = channel.ConfigureAwait(false);
        await channel.BasicQosAsync(0, (ushort)Math.Min(ushort.MaxValue, batchSize * 2), false, cancellationToken).ConfigureAwait(false);
        var deliveries = Channel.CreateUnbounded<Delivery>(new UnboundedChannelOptions { SingleReader = true });
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, e) =>
        {
            // The body is only valid during the handler: copied. Memory stays within the prefetch (two batches).
            deliveries.Writer.TryWrite(new Delivery(e.DeliveryTag, e.BasicProperties.MessageId, e.BasicProperties.Headers, e.Body.ToArray()));
            return Task.CompletedTask;
        };
        consumer.ShutdownAsync += (_, e) =>
        {
            deliveries.Writer.TryComplete(new IOException($"the channel consuming '{Queue}' closed: {e.ReplyText}"));
            return Task.CompletedTask;
        };
        channel.ChannelShutdownAsync += (_, e) =>
        {
            deliveries.Writer.TryComplete(new IOException($"the channel consuming '{Queue}' closed: {e.ReplyText}"));
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(Queue, autoAck: false, consumer, cancellationToken).ConfigureAwait(false);

        var batch = new List<Delivery>(batchSize);
        var rows = new List<FailedMessage>(batchSize);
        while (true)
        {
            batch.Clear();
            rows.Clear();
            batch.Add(await deliveries.Reader.ReadAsync(cancellationToken).ConfigureAwait(false));
            while (batch.Count < batchSize && deliveries.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }

            await AtAsync(IngestionPoint.BatchRead, cancellationToken).ConfigureAwait(false);
            using var activity = WorkersDiagnostics.ActivitySource.StartActivity("workers.failurestore.ingest", ActivityKind.Internal);
            activity?.SetTag("queue", Queue);
            activity?.SetTag("batch.size", batch.Count);
            var now = time.GetUtcNow();
            foreach (var delivery in batch)
            {
                rows.Add(DeadLetterRecord.From(Queue, delivery.MessageId, delivery.Headers, delivery.Body, now));
            }

            var added = await writer.InsertAsync(rows, cancellationToken).ConfigureAwait(false);
            await AtAsync(IngestionPoint.Committed, cancellationToken).ConfigureAwait(false);
            await channel.BasicAckAsync(batch[^1].DeliveryTag, multiple: true, cancellationToken).ConfigureAwait(false);
            Report(added, batch.Count - added, activity);
            await AtAsync(IngestionPoint.Acknowledged, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Records a failed attempt (called by the runner that retries).</summary>
    public void ReportFailure(Exception exception, TimeSpan retryDelay)
    {
        ConsecutiveFailures++;
        Failures.Add(1, new KeyValuePair<string, object?>("queue", Queue), new KeyValuePair<string, object?>("exception.type", exception.GetType().FullName));
        FailureStoreLog.IngestFailed(logger, exception, Queue, exception.GetType().Name, retryDelay);
    }

    private void Report(int added, int duplicated, Activity? activity)
    {
        Interlocked.Add(ref inserted, added);
        Interlocked.Add(ref duplicates, duplicated);
        var queueTag = new KeyValuePair<string, object?>("queue", Queue);
        Ingested.Add(added, queueTag);
        if (duplicated > 0)
        {
            Duplicates.Add(duplicated, queueTag);
        }

        activity?.AddEvent(new ActivityEvent("workers.failurestore.committed", tags: new ActivityTagsCollection { ["inserted"] = added, ["duplicates"] = duplicated }));
        FailureStoreLog.BatchIngested(logger, Queue, added, duplicated);
        if (ConsecutiveFailures > 0)
        {
            FailureStoreLog.IngestRecovered(logger, Queue, ConsecutiveFailures);
            ConsecutiveFailures = 0;
        }
    }

    private Task AtAsync(IngestionPoint point, CancellationToken cancellationToken) =>
        at is null ? Task.CompletedTask : at(point, cancellationToken);

    private readonly record struct Delivery(ulong DeliveryTag, string? MessageId, IDictionary<string, object?>? Headers, byte[] Body);
}
