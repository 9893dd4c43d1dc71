using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Workers.Postgres.Storage;

namespace Workers.Postgres.Outbox;

/// <summary>
/// Healthy while the oldest undelivered message is younger than <see cref="OutboxOptions.LagDegradedThreshold"/>
/// (quarantined messages, and those held behind them, do not count: no replica can deliver them, and holding every
/// replica unready would not either; they are reported in the data, the gauges and the log instead);
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

        if (topology == TopologyState.NoPrimary)
        {
            // Every configured host answered or timed out and none is primary: a failover manager is promoting one.
            // Writes wait for it (the inbox holds messages in the broker, the outbox keeps its rows): not ready for new
            // work, not broken.
            var failover = new Dictionary<string, object> { ["topology"] = nameof(TopologyState.NoPrimary) };
            if (snapshot is { } last)
            {
                failover["pending"] = last.Pending;
                failover["measured_at"] = last.MeasuredAt;
            }

            return HealthCheckResult.Degraded("No PostgreSQL host is primary: database failover in progress, outbox writes wait for the new primary.", data: failover);
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
            ["quarantined"] = measured.Quarantined,
            ["held"] = measured.Held,
            ["topology"] = topology.ToString(),
        };
        var stale = now - measured.MeasuredAt;
        var staleLimit = options.MaintenanceInterval * 3 > options.LagDegradedThreshold ? options.MaintenanceInterval * 3 : options.LagDegradedThreshold;
        if (stale > staleLimit)
        {
            return HealthCheckResult.Degraded($"Outbox backlog not measured for {stale.TotalSeconds:F0} s (database unreachable?).", data: data);
        }

        var quarantine = measured.Quarantined > 0
            ? $" {measured.Quarantined} quarantined, {measured.Held} held behind them (operator action: see the {WorkersModelBuilderExtensions.OutboxQuarantineView} view)."
            : string.Empty;
        return lag > options.LagDegradedThreshold
            ? HealthCheckResult.Degraded($"Oldest undelivered outbox message is {lag.TotalSeconds:F0} s old ({measured.Pending} pending).{quarantine}", data: data)
            : HealthCheckResult.Healthy($"{measured.Pending} pending, oldest {lag.TotalSeconds:F1} s.{quarantine}", data: data);
    }
}
