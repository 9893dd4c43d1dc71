using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Workers.Postgres.Storage;
using Workers.Resilience.Telemetry;

namespace Workers.Postgres.Inbox;

/// <summary>
/// Deletes inbox rows older than <see cref="InboxOptions.Retention"/> every <see cref="InboxOptions.CleanupInterval"/>:
/// one round deletes in batches of <see cref="InboxOptions.CleanupBatchSize"/> (each its own short statement) while a
/// batch comes back full, up to <see cref="InboxOptions.MaxCleanupBatches"/> batches.
/// </summary>
internal sealed class InboxCleanupService<TDbContext>(
    IServiceScopeFactory scopeFactory,
    WorkersDatabase<TDbContext> database,
    IOptions<InboxOptions> options,
    TimeProvider timeProvider,
    ILogger<InboxCleanupService<TDbContext>> logger) : BackgroundService
    where TDbContext : DbContext
{
    private static readonly Histogram<long> Deleted = WorkersDiagnostics.Meter.CreateHistogram<long>(
        "workers.inbox.cleanup.deleted", "{row}", "Expired inbox rows deleted by one cleanup round.");

    private readonly string contextName = typeof(TDbContext).Name;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.EnableCleanup)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(settings.CleanupInterval, timeProvider, stoppingToken).ConfigureAwait(false);
                await CleanOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                InboxLog.CleanupFailed(logger, e);
            }
        }
    }

    /// <summary>One cleanup round; returns the rows it deleted.</summary>
    internal async Task<long> CleanOnceAsync(CancellationToken cancellationToken)
    {
        if (!database.Topology.WritesAllowed)
        {
            return 0;
        }

        var settings = options.Value;
        var cutoff = timeProvider.GetUtcNow() - settings.Retention;
        var started = timeProvider.GetTimestamp();
        var scope = scopeFactory.CreateAsyncScope();
        await using var scopeDisposal = scope.ConfigureAwait(false);
        var context = scope.ServiceProvider.GetRequiredService<TDbContext>();
        var strategy = context.Database.CreateExecutionStrategy();

        // Each batch is its own statement and transaction (autocommit), retried alone: no lock outlives a batch.
        var round = await BatchedDelete.RunAsync(
            ct => strategy.ExecuteAsync(c => InboxStore.CleanupAsync(context, database.Tables, cutoff, settings.CleanupBatchSize, c), ct),
            settings.CleanupBatchSize,
            settings.MaxCleanupBatches,
            () => database.Topology.WritesAllowed,
            cancellationToken).ConfigureAwait(false);
        Report(round, timeProvider.GetElapsedTime(started));
        return round.Deleted;
    }

    private void Report(BatchedDeleteResult round, TimeSpan elapsed)
    {
        Deleted.Record(round.Deleted, new KeyValuePair<string, object?>("db.context", contextName), new KeyValuePair<string, object?>("workers.cleanup.capped", round.Capped));
        if (round.Deleted == 0)
        {
            return;
        }

        InboxLog.Cleaned(logger, round.Deleted, round.Batches, elapsed.TotalMilliseconds);
        WorkersDiagnostics.AddEvent(
            "workers.inbox.cleaned",
            new KeyValuePair<string, object?>("count", round.Deleted),
            new KeyValuePair<string, object?>("batches", round.Batches),
            new KeyValuePair<string, object?>("capped", round.Capped));
        if (round.Capped)
        {
            InboxLog.CleanupCapped(logger, round.Batches, round.Deleted, options.Value.CleanupInterval);
        }
    }
}
