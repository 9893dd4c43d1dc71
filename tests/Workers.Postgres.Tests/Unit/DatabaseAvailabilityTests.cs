using Microsoft.Extensions.Diagnostics.HealthChecks;
using Workers.Postgres.Inbox;
using Workers.Postgres.Storage;
using Workers.Postgres.Tests.Support;
using Xunit;

namespace Workers.Postgres.Tests.Unit;

public sealed class DatabaseAvailabilityTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 2, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(4, 8)]
    [InlineData(5, 10)]
    [InlineData(1000, 10)]
    public void HoldPause_DoublesFromOneSecond_UpToTen(int failures, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), DatabaseAvailability.HoldPause(failures));

    [Fact]
    public void Holds_MarkUnavailableOnce_AndASuccessEndsTheOutage()
    {
        var availability = new DatabaseAvailability();
        Assert.Null(availability.RecordSuccess(Start));

        Assert.Equal((1, true), availability.RecordHold(Start, new TimeoutException("a")));
        Assert.Equal((2, false), availability.RecordHold(Start.AddSeconds(3), new TimeoutException("b")));
        var during = availability.Snapshot;
        Assert.Equal(Start, during.UnavailableSince);
        Assert.Equal("TimeoutException: b", during.LastError);

        Assert.Equal(TimeSpan.FromSeconds(7), availability.RecordSuccess(Start.AddSeconds(7)));
        var after = availability.Snapshot;
        Assert.Null(after.UnavailableSince);
        Assert.Equal(0, after.ConsecutiveFailures);
        Assert.Equal(2, after.Held);
        Assert.Equal((1, true), availability.RecordHold(Start.AddSeconds(9), new TimeoutException("c")));
    }

    [Fact]
    public void HealthCheck_DegradedWhileUnavailable_HealthyOtherwise()
    {
        var availability = new DatabaseAvailability();
        Assert.Equal(HealthStatus.Healthy, InboxDatabaseHealthCheck<TestDb>.Evaluate(availability.Snapshot, Start).Status);

        availability.RecordHold(Start, new TimeoutException("connection lost"));
        var degraded = InboxDatabaseHealthCheck<TestDb>.Evaluate(availability.Snapshot, Start.AddSeconds(42));
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Contains("42 s", degraded.Description, StringComparison.Ordinal);
        Assert.Contains("connection lost", degraded.Description, StringComparison.Ordinal);

        availability.RecordSuccess(Start.AddSeconds(50));
        Assert.Equal(HealthStatus.Healthy, InboxDatabaseHealthCheck<TestDb>.Evaluate(availability.Snapshot, Start.AddSeconds(50)).Status);
    }
}
