using System.Diagnostics.Metrics;
using System.Runtime.ExceptionServices;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Workers.Postgres.Outbox;
using Workers.Postgres.Storage;
using Workers.Resilience;
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
/// Pipeline position: innermost, just before the consumer (the order is written once: src/Workers.Resilience/README.md).
/// </summary>
internal sealed class InboxFilter<TMessage>(IInboxRunner runner) : IFilter<ConsumeContext<TMessage>>
    where TMessage : class
{
    public Task Send(ConsumeContext<TMessage> context, IPipe<ConsumeContext<TMessage>> next) => runner.RunAsync(context, next);

    public void Probe(ProbeContext context) => context.CreateFilterScope("workers-inbox");
}

/// <summary>The inbox transaction for <typeparamref name="TDbContext"/>.</summary>
internal sealed class InboxRunner<TDbContext>(TDbContext db, WorkersDatabase<TDbContext> database, OutboxConsumeScope consumeScope, TimeProvider timeProvider, ILogger<InboxRunner<TDbContext>> logger, IServiceProvider services, IOptions<InboxOptions> options) : IInboxRunner
    where TDbContext : DbContext
{
    private const string ConsumerType = "Workers.Inbox";
    private static readonly Counter<long> Processed = WorkersDiagnostics.Meter.CreateCounter<long>("workers.inbox.processed", "{message}", "Messages processed through the inbox.");
    private static readonly Counter<long> Duplicates = WorkersDiagnostics.Meter.CreateCounter<long>("workers.inbox.duplicates", "{message}", "Duplicate messages absorbed by the inbox.");
    private static readonly Counter<long> Held = WorkersDiagnostics.Meter.CreateCounter<long>(InboxConstants.HeldInstrument, "{message}", "Messages returned to their queue untouched because the inbox database was unavailable (not attempts).");

    public async Task RunAsync<TMessage>(ConsumeContext<TMessage> context, IPipe<ConsumeContext<TMessage>> next)
        where TMessage : class
    {
        var messageId = context.MessageId
            ?? throw new InvalidOperationException("The inbox needs a MessageId; the message has none.");
        var consumer = ConsumerName(context.ReceiveContext.InputAddress);
        var tables = database.Tables;
        var strategy = db.Database.CreateExecutionStrategy();
        var consumed = RoutedThroughOutbox(context);

        // Only the framework's own statements are retried. Once the consumer has run, its own failure ends this
        // delivery: it is captured here, out of the strategy's reach, and rethrown below so redelivery sees one attempt.
        // The framework's statements failing for good — the database unreachable, failing over, refusing writes — are
        // not the consumer's failure: the message is held in the broker (DependencyUnavailableException: not an
        // attempt, not breaker evidence) and comes back after a pause. That includes a failed save or commit of the
        // consumer's effects for a transient (connection-class) reason: nothing was committed, and if the commit did
        // land after all, the inbox absorbs the redelivery as a duplicate. A save refused for a non-transient reason
        // (a constraint the consumer's entities violate) is the consumer's failure: one attempt.
        ExceptionDispatchInfo? failure = null;
        bool duplicate;
        try
        {
            duplicate = await strategy.ExecuteAsync(
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
                        await next.Send(consumed).ConfigureAwait(false);
                    }
#pragma warning disable CA1031 // captured and rethrown outside the execution strategy
                    catch (Exception exception)
#pragma warning restore CA1031
                    {
                        failure = ExceptionDispatchInfo.Capture(exception);
                        return false;
                    }

                    try
                    {
                        await db.SaveChangesAsync(ct).ConfigureAwait(false);
                        await transaction.CommitAsync(ct).ConfigureAwait(false);
                        watch.ThrowIfNotDurable();
                    }
                    catch (Exception exception) when (!WorkersExecutionStrategy.IsTransient(exception))
                    {
                        failure = ExceptionDispatchInfo.Capture(exception);
                    }
                    catch (Exception exception)
                    {
                        throw new EffectsNotCommittedException(exception);
                    }

                    return false;
                },
                context.CancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (!(exception is OperationCanceledException && context.CancellationToken.IsCancellationRequested))
        {
            await HoldAsync(context, messageId, consumer, exception is EffectsNotCommittedException { InnerException: { } inner } ? inner : exception).ConfigureAwait(false);
            throw; // not reached: HoldAsync throws
        }

        if (database.Availability.RecordSuccess(timeProvider.GetUtcNow()) is { } outage)
        {
            InboxLog.DatabaseAvailable(logger, outage.TotalSeconds);
            WorkersDiagnostics.AddEvent(InboxConstants.DatabaseAvailableEvent, new KeyValuePair<string, object?>("outage_seconds", outage.TotalSeconds));
        }

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

    /// <summary>
    /// The context the consumer gets: with <see cref="InboxOptions.PublishThroughOutbox"/>, one whose Publish/Send/Respond
    /// stage in the scope's outbox (the same scope, so the same DbContext and transaction); otherwise the context as received.
    /// </summary>
    private ConsumeContext<TMessage> RoutedThroughOutbox<TMessage>(ConsumeContext<TMessage> context)
        where TMessage : class =>
        options.Value.PublishThroughOutbox && services.GetService<IWorkersOutbox>() is IOutboxSendStaging staging
            ? new OutboxConsumeContext<TMessage>(context, staging, services)
            : context;

    private async Task HoldAsync<TMessage>(ConsumeContext<TMessage> context, Guid messageId, string consumer, Exception failure)
        where TMessage : class
    {
        var (failures, becameUnavailable) = database.Availability.RecordHold(timeProvider.GetUtcNow(), failure);
        var pause = DatabaseAvailability.HoldPause(failures);
        if (becameUnavailable)
        {
            InboxLog.DatabaseUnavailable(logger, failure, consumer);
        }

        InboxLog.Held(logger, messageId, consumer, pause.TotalSeconds, failure.GetType().Name);
        var tag = new KeyValuePair<string, object?>("consumer", consumer);
        Held.Add(1, tag, new KeyValuePair<string, object?>("error.type", failure.GetType().FullName));
        WorkersDiagnostics.AddEvent(InboxConstants.HeldEvent, new KeyValuePair<string, object?>("message_id", messageId), tag, new KeyValuePair<string, object?>("exception.type", failure.GetType().FullName));
        try
        {
            await Task.Delay(pause, timeProvider, context.CancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping (or the endpoint's timeout): the message goes back at once.
        }

        throw new DependencyUnavailableException($"The inbox database was unavailable for message {messageId} on {consumer}; it returns to the queue (not an attempt).", failure);
    }

    /// <summary>The consumer ran, but saving or committing its effects failed for a transient reason.</summary>
    private sealed class EffectsNotCommittedException(Exception inner) : Exception("The consumer's effects were not committed.", inner);

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
