using System.Diagnostics.Metrics;
using System.Runtime.ExceptionServices;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Npgsql;
using Workers.Postgres.Outbox;
using Workers.Postgres.Storage;
using Workers.Resilience.Telemetry;

namespace Workers.Postgres.Inbox;

/// <summary>Runs one message through the inbox transaction; bound to the application's DbContext type.</summary>
internal interface IInboxRunner
{
    Task RunAsync<TMessage>(ConsumeContext<TMessage> context, IPipe<ConsumeContext<TMessage>> next)
        where TMessage : class;
}

/// <summary>
/// Scoped consume filter (resolved in the message's scope, which the consumer shares): opens a transaction on
/// the scope's DbContext, records (MessageId, endpoint) in the inbox, runs the consumer, saves its changes and the
/// outbox rows it staged, and commits, all through the execution strategy. A duplicate commits no effects and is
/// acknowledged without running the consumer.
/// Pipeline position: innermost, just before the consumer (dead-letter → redelivery → breaker → bulkhead → inbox → consumer).
/// </summary>
internal sealed class InboxFilter<TMessage>(IInboxRunner runner) : IFilter<ConsumeContext<TMessage>>
    where TMessage : class
{
    public Task Send(ConsumeContext<TMessage> context, IPipe<ConsumeContext<TMessage>> next) => runner.RunAsync(context, next);

    public void Probe(ProbeContext context) => context.CreateFilterScope("workers-inbox");
}

/// <summary>The inbox transaction for <typeparamref name="TDbContext"/>.</summary>
internal sealed class InboxRunner<TDbContext>(TDbContext db, WorkersDatabase<TDbContext> database, OutboxConsumeScope consumeScope, TimeProvider timeProvider, ILogger<InboxRunner<TDbContext>> logger) : IInboxRunner
    where TDbContext : DbContext
{
    private const string ConsumerType = "Workers.Inbox";
    private static readonly Counter<long> Processed = WorkersDiagnostics.Meter.CreateCounter<long>("workers.inbox.processed", "{message}", "Messages processed through the inbox.");
    private static readonly Counter<long> Duplicates = WorkersDiagnostics.Meter.CreateCounter<long>("workers.inbox.duplicates", "{message}", "Duplicate messages absorbed by the inbox.");

    public async Task RunAsync<TMessage>(ConsumeContext<TMessage> context, IPipe<ConsumeContext<TMessage>> next)
        where TMessage : class
    {
        var messageId = context.MessageId
            ?? throw new InvalidOperationException("The inbox needs a MessageId; the message has none.");
        var consumer = ConsumerName(context.ReceiveContext.InputAddress);
        var tables = database.Tables;
        var strategy = db.Database.CreateExecutionStrategy();

        // Only the framework's own statements are retried. Once the consumer has run, any failure (the consumer's
        // own, its SaveChanges or the commit) ends this delivery: it is captured here, out of the strategy's reach,
        // and rethrown below so redelivery sees one attempt. A failed commit means "not processed": the message is
        // redelivered, and if the commit did land after all, the inbox absorbs the redelivery as a duplicate.
        ExceptionDispatchInfo? failure = null;
        var duplicate = await strategy.ExecuteAsync(
            async ct =>
            {
                database.Topology.ThrowIfWritesRefused();
                db.ChangeTracker.Clear();
                var transaction = await db.Database.BeginTransactionAsync(ct).ConfigureAwait(false);
                await using var transactionDisposal = transaction.ConfigureAwait(false);
                using var watch = DurableCommit.Watch((NpgsqlConnection)db.Database.GetDbConnection());
                var inserted = await InboxStore.TryRecordAsync(db, tables, messageId, consumer, timeProvider.GetUtcNow(), ct).ConfigureAwait(false);
                if (!inserted)
                {
                    await transaction.CommitAsync(ct).ConfigureAwait(false);
                    watch.ThrowIfNotDurable();
                    return true;
                }

                try
                {
                    consumeScope.Begin(messageId, consumer); // outbox ids derived from (messageId, consumer, position)
                    await next.Send(context).ConfigureAwait(false);
                    await db.SaveChangesAsync(ct).ConfigureAwait(false);
                    await transaction.CommitAsync(ct).ConfigureAwait(false);
                    watch.ThrowIfNotDurable();
                }
#pragma warning disable CA1031 // captured and rethrown outside the execution strategy
                catch (Exception exception)
#pragma warning restore CA1031
                {
                    failure = ExceptionDispatchInfo.Capture(exception);
                }

                return false;
            },
            context.CancellationToken).ConfigureAwait(false);

        failure?.Throw();

        var tag = new KeyValuePair<string, object?>("consumer", consumer);
        if (duplicate)
        {
            // The consumer did not run, yet the message is handled: mark it consumed, or MassTransit moves it to <queue>_skipped.
            await context.NotifyConsumed(context, context.ReceiveContext.ElapsedTime, ConsumerType).ConfigureAwait(false);
            Duplicates.Add(1, tag);
            WorkersDiagnostics.AddEvent("workers.inbox.duplicate", new KeyValuePair<string, object?>("message_id", messageId), tag);
            InboxLog.Duplicate(logger, messageId, consumer);
        }
        else
        {
            Processed.Add(1, tag);
        }
    }

    /// <summary>The inbox key's consumer part: the receive endpoint (queue) name.</summary>
    internal static string ConsumerName(Uri? inputAddress)
    {
        if (inputAddress is null)
        {
            return "unknown";
        }

        var path = inputAddress.AbsolutePath.TrimEnd('/');
        var slash = path.LastIndexOf('/');
        return slash >= 0 ? path[(slash + 1)..] : path;
    }
}
