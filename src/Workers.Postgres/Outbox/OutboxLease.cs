namespace Workers.Postgres.Outbox;

/// <summary>Pure lease and back-off decisions of the dispatcher.</summary>
internal static class OutboxLease
{
    /// <summary>When a claim taken at <paramref name="now"/> ends.</summary>
    public static DateTimeOffset Until(DateTimeOffset now, TimeSpan lease) => now + lease;

    /// <summary>Whether a row is claimable by <paramref name="owner"/> at <paramref name="now"/> (mirror of the claim SQL's lease condition; the SQL also skips quarantined rows).</summary>
    public static bool IsClaimable(DateTimeOffset? dispatchedAt, string? lockOwner, DateTimeOffset? lockedUntil, string owner, DateTimeOffset now) =>
        dispatchedAt is null && (lockedUntil is null || lockedUntil <= now || string.Equals(lockOwner, owner, StringComparison.Ordinal));

    /// <summary>Back-off after the <paramref name="attempts"/>-th failed publish: <c>RetryDelay * 2^(attempts-1)</c>, capped.</summary>
    public static TimeSpan RetryDelay(int attempts, TimeSpan retryDelay, TimeSpan maxRetryDelay)
    {
        if (attempts <= 1)
        {
            return retryDelay <= maxRetryDelay ? retryDelay : maxRetryDelay;
        }

        var exponent = Math.Min(attempts - 1, 30);
        var ticks = retryDelay.Ticks * Math.Pow(2, exponent);
        return ticks >= maxRetryDelay.Ticks ? maxRetryDelay : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>Age of the oldest undelivered row (zero when there is none).</summary>
    public static TimeSpan Lag(DateTimeOffset? oldestCreatedAt, DateTimeOffset now) =>
        oldestCreatedAt is { } oldest && now > oldest ? now - oldest : TimeSpan.Zero;
}
