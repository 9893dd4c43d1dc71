using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Workers.Postgres.Outbox;
using Workers.Postgres.Storage;
using Workers.Resilience.Telemetry;

namespace Workers.Postgres.Failover;

/// <summary>
/// The split-brain guard's eyes: every <see cref="OutboxOptions.TopologyCheckInterval"/> asks each configured host of
/// <typeparamref name="TDbContext"/>'s (multi-host) connection string whether it is primary and records the verdict in
/// <see cref="PostgresTopology"/>, which the inbox, the outbox dispatcher, the inbox cleanup and the health checks read.
/// Registered by <c>AddWorkersInbox</c> and <c>AddWorkersOutbox</c> alike (once), so the guard holds whichever of them
/// runs — the inbox alone, or the outbox with its dispatcher turned off. Returns at once for a single-host connection
/// string (nothing to compare).
/// </summary>
internal sealed class PostgresTopologyMonitor<TDbContext>(
    WorkersDatabase<TDbContext> database,
    IOptions<OutboxOptions> options,
    TimeProvider timeProvider,
    ILogger<PostgresTopologyMonitor<TDbContext>> logger) : BackgroundService
    where TDbContext : DbContext
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var interval = options.Value.TopologyCheckInterval;
        var last = database.Topology.State;
        var configured = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!configured)
                {
                    // Reads the context's connection string once (and configures the topology from it).
                    _ = database.ConnectionString;
                    configured = true;
                    if (!database.Topology.MultiHost)
                    {
                        return;
                    }
                }

                var state = await database.Topology.CheckAsync(stoppingToken).ConfigureAwait(false);
                if (state != last)
                {
                    last = state;
                    if (state == TopologyState.SplitBrain)
                    {
                        TopologyLog.SplitBrain(logger, state.ToString());
                    }
                    else
                    {
                        TopologyLog.TopologyChanged(logger, state.ToString());
                    }

                    WorkersDiagnostics.AddEvent(TopologyLog.ChangedEvent, new KeyValuePair<string, object?>("state", state.ToString()));
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                TopologyLog.CheckFailed(logger, e, typeof(TDbContext).Name);
            }

            try
            {
                await Task.Delay(interval, timeProvider, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
