using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Workers.Postgres.Storage;

namespace Workers.Postgres.Inbox;

/// <summary>
/// Healthy while the inbox's own statements succeed; Degraded while its database is unavailable and messages are
/// held in the broker (they are not attempts: nothing is dead-lettered because of the outage).
/// </summary>
internal sealed class InboxDatabaseHealthCheck<TDbContext>(WorkersDatabase<TDbContext> database, TimeProvider timeProvider) : IHealthCheck
    where TDbContext : DbContext
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(Evaluate(database.Availability.Snapshot, timeProvider.GetUtcNow()));

    /// <summary>Pure decision, unit-tested.</summary>
    internal static HealthCheckResult Evaluate(DatabaseAvailabilitySnapshot snapshot, DateTimeOffset now)
    {
        var data = new Dictionary<string, object> { ["held_total"] = snapshot.Held };
        if (snapshot.UnavailableSince is not { } since)
        {
            return HealthCheckResult.Healthy("The inbox database answers.", data);
        }

        data["unavailable_since"] = since;
        data["failures_in_a_row"] = snapshot.ConsecutiveFailures;
        return HealthCheckResult.Degraded(
            $"The inbox database has been unavailable for {(now - since).TotalSeconds:F0} s: messages are held in the broker (not counted as attempts). Last error: {snapshot.LastError}",
            data: data);
    }
}
