using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Workers.Postgres.Storage;

namespace Workers.Postgres.Inbox;

/// <summary>Deletes inbox rows older than <see cref="InboxOptions.Retention"/>, in batches, every <see cref="InboxOptions.CleanupInterval"/>.</summary>
internal sealed class InboxCleanupService<TDbContext>(
    IServiceScopeFactory scopeFactory,
    WorkersDatabase<TDbContext> database,
    IOptions<InboxOptions> options,
    TimeProvider timeProvider,
    ILogger<InboxCleanupService<TDbContext>> logger) : BackgroundService
    where TDbContext : DbContext
{
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
                var deleted = await CleanOnceAsync(stoppingToken).ConfigureAwait(false);
                if (deleted > 0)
                {
                    InboxLog.Cleaned(logger, deleted);
                }
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

    internal async Task<int> CleanOnceAsync(CancellationToken cancellationToken)
    {
        if (!database.Topology.WritesAllowed)
        {
            return 0;
        }

        var scope = scopeFactory.CreateAsyncScope();
        await using var scopeDisposal = scope.ConfigureAwait(false);
        var context = scope.ServiceProvider.GetRequiredService<TDbContext>();
        var cutoff = timeProvider.GetUtcNow() - options.Value.Retention;
        var strategy = context.Database.CreateExecutionStrategy();
        return await strategy.ExecuteAsync(ct => InboxStore.CleanupAsync(context, database.Tables, cutoff, ct), cancellationToken).ConfigureAwait(false);
    }
}
