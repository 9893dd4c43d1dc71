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

    private static HealthStatus Evaluate(OutboxBacklogSnapshot snapshot, TopologyState topology) =>
        OutboxHealthCheck<TestDb>.Evaluate(snapshot, topology, Options, Now).Status;
}
