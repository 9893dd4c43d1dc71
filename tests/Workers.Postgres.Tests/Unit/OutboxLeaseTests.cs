using Workers.Postgres.Outbox;
using Xunit;

namespace Workers.Postgres.Tests.Unit;

public sealed class OutboxLeaseTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(6, 32)]
    [InlineData(7, 60)]
    [InlineData(1000, 60)]
    public void RetryDelay_DoublesPerAttemptUpToTheCap(int attempts, int expectedSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), OutboxLease.RetryDelay(attempts, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)));

    [Fact]
    public void FreeRow_IsClaimable() => Assert.True(OutboxLease.IsClaimable(null, null, null, "me", Now));

    [Fact]
    public void RowLeasedByAnotherOwner_IsNotClaimableUntilTheLeaseEnds()
    {
        Assert.False(OutboxLease.IsClaimable(null, "other", Now.AddSeconds(1), "me", Now));
        Assert.True(OutboxLease.IsClaimable(null, "other", Now, "me", Now));
        Assert.True(OutboxLease.IsClaimable(null, "other", Now.AddSeconds(-1), "me", Now));
    }

    [Fact]
    public void RowLeasedByMe_IsClaimableAgain_SoANonDurableClaimRetryFindsItsRows() =>
        Assert.True(OutboxLease.IsClaimable(null, "me", Now.AddSeconds(30), "me", Now));

    [Fact]
    public void BackedOffRow_HasNoOwner_AndWaitsForItsRetryTime() =>
        Assert.False(OutboxLease.IsClaimable(null, null, Now.AddSeconds(2), "me", Now));

    [Fact]
    public void DispatchedRow_IsNeverClaimable() => Assert.False(OutboxLease.IsClaimable(Now, null, null, "me", Now));

    [Fact]
    public void Lag_IsTheAgeOfTheOldestUndeliveredRow()
    {
        Assert.Equal(TimeSpan.Zero, OutboxLease.Lag(null, Now));
        Assert.Equal(TimeSpan.FromSeconds(90), OutboxLease.Lag(Now.AddSeconds(-90), Now));
        Assert.Equal(TimeSpan.Zero, OutboxLease.Lag(Now.AddSeconds(5), Now));
    }
}
