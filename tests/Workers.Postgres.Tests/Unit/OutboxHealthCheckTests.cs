using Microsoft.Extensions.Diagnostics.HealthChecks;
using Workers.Postgres.Outbox;
using Workers.Postgres.Storage;
using Workers.Postgres.Tests.Support;
using Xunit;

namespace Workers.Postgres.Tests.Unit;

public sealed class OutboxHealthCheckTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly OutboxOptions Options = new() { LagDegradedThreshold = TimeSpan.FromMinutes(1), MaintenanceInterval = TimeSpan.FromSeconds(5) };

    [Fact]
    public void SmallLag_IsHealthy() =>
        Assert.Equal(HealthStatus.Healthy, Evaluate(new OutboxBacklogSnapshot(3, Now.AddSeconds(-2), Now), TopologyState.OnePrimary));

    [Fact]
    public void LagOverThreshold_IsDegraded() =>
        Assert.Equal(HealthStatus.Degraded, Evaluate(new OutboxBacklogSnapshot(3, Now.AddMinutes(-2), Now), TopologyState.OnePrimary));

    [Fact]
    public void StaleMeasurement_IsDegraded() =>
        Assert.Equal(HealthStatus.Degraded, Evaluate(new OutboxBacklogSnapshot(0, null, Now.AddMinutes(-5)), TopologyState.Unknown));

    [Fact]
    public void SplitBrain_IsUnhealthy() =>
        Assert.Equal(HealthStatus.Unhealthy, Evaluate(new OutboxBacklogSnapshot(0, null, Now), TopologyState.SplitBrain));

    [Fact]
    public void NoPrimary_IsDegraded_AndSaysFailoverInProgress()
    {
        // A fresh measurement and no lag: only the topology says the database is failing over.
        var result = OutboxHealthCheck<TestDb>.Evaluate(new OutboxBacklogSnapshot(3, Now.AddSeconds(-1), Now), TopologyState.NoPrimary, Options, Now);

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Contains("failover in progress", result.Description, StringComparison.Ordinal);
        Assert.Equal("NoPrimary", result.Data["topology"]);
        Assert.Equal(3L, result.Data["pending"]);
    }

    [Fact]
    public void OnePrimary_ReportsTopology() =>
        Assert.Equal("OnePrimary", OutboxHealthCheck<TestDb>.Evaluate(new OutboxBacklogSnapshot(0, null, Now), TopologyState.OnePrimary, Options, Now).Data["topology"]);

    [Fact]
    public void QuarantinedRows_DoNotMakeItUnready_ButAreReported()
    {
        // The lag is that of the oldest dispatchable row: quarantined rows and those held behind them are left out of it.
        var result = OutboxHealthCheck<TestDb>.Evaluate(new OutboxBacklogSnapshot(4, Now.AddSeconds(-1), Now, Quarantined: 1, Held: 3), TopologyState.OnePrimary, Options, Now);

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Equal(1L, result.Data["quarantined"]);
        Assert.Equal(3L, result.Data["held"]);
        Assert.Contains("1 quarantined, 3 held", result.Description, StringComparison.Ordinal);
    }

    private static HealthStatus Evaluate(OutboxBacklogSnapshot snapshot, TopologyState topology) =>
        OutboxHealthCheck<TestDb>.Evaluate(snapshot, topology, Options, Now).Status;
}
