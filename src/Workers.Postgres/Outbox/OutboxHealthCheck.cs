using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Workers.Postgres.Storage;

namespace Workers.Postgres.Outbox;

/// <summary>
/// Healthy while the oldest undelivered message is younger than <see cref="OutboxOptions.LagDegradedThreshold"/>;
/// Degraded above it or when the backlog could not be measured recently (database unreachable);
/// Unhealthy on split brain (writes refused).
/// </summary>
internal sealed class OutboxHealthCheck<TDbContext>(WorkersDatabase<TDbContext> database, IOptions<OutboxOptions> options, TimeProvider timeProvider) : IHealthCheck
    where TDbContext : DbContext
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(Evaluate(database.Backlog.Snapshot, database.Topology.State, options.Value, timeProvider.GetUtcNow()));

    /// <summary>Pure decision, unit-tested.</summary>
    internal static HealthCheckResult Evaluate(OutboxBacklogSnapshot? snapshot, TopologyState topology, OutboxOptions options, DateTimeOffset now)
    {
        if (topology == TopologyState.SplitBrain)
        {
            return HealthCheckResult.Unhealthy("More than one PostgreSQL host claims to be primary: outbox writes refused.");
        }

        if (snapshot is not { } measured)
        {
            return HealthCheckResult.Healthy("Outbox backlog not measured yet.");
        }

        var lag = OutboxLease.Lag(measured.OldestCreatedAt, now);
        var data = new Dictionary<string, object>
        {
            ["pending"] = measured.Pending,
            ["lag_seconds"] = lag.TotalSeconds,
            ["measured_at"] = measured.MeasuredAt,
        };
        var stale = now - measured.MeasuredAt;
        var staleLimit = options.MaintenanceInterval * 3 > options.LagDegradedThreshold ? options.MaintenanceInterval * 3 : options.LagDegradedThreshold;
        if (stale > staleLimit)
        {
            return HealthCheckResult.Degraded($"Outbox backlog not measured for {stale.TotalSeconds:F0} s (database unreachable?).", data: data);
        }

        return lag > options.LagDegradedThreshold
            ? HealthCheckResult.Degraded($"Oldest undelivered outbox message is {lag.TotalSeconds:F0} s old ({measured.Pending} pending).", data: data)
            : HealthCheckResult.Healthy($"{measured.Pending} pending, oldest {lag.TotalSeconds:F1} s.", data: data);
    }
}
