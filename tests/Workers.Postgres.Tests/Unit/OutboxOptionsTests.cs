using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit;

namespace Workers.Postgres.Tests.Unit;

public sealed class OutboxOptionsTests
{
    [Fact]
    public void Defaults_AreValid()
    {
        Assert.Empty(new OutboxOptions().Validate());
        Assert.Empty(new InboxOptions().Validate());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void MaxDispatchAttemptsBelowOne_IsRefusedWithItsPath(int attempts)
    {
        var errors = new OutboxOptions { MaxDispatchAttempts = attempts }.Validate("Workers:Outbox");

        Assert.Equal($"Workers:Outbox:MaxDispatchAttempts must be at least 1 (was {attempts}).", Assert.Single(errors));
        Assert.Equal(10, new OutboxOptions().MaxDispatchAttempts);
    }

    [Fact]
    public void InvalidValues_AreAllReportedAtOnceWithTheirPaths()
    {
        var options = new OutboxOptions
        {
            BatchSize = 0,
            PollingInterval = TimeSpan.Zero,
            LeaseDuration = TimeSpan.FromSeconds(5),
            PublishTimeout = TimeSpan.FromSeconds(5),
            RetryDelay = TimeSpan.FromSeconds(10),
            MaxRetryDelay = TimeSpan.FromSeconds(1),
            DispatchedRetention = TimeSpan.FromSeconds(-1),
        };

        var errors = options.Validate("Workers:Outbox");

        Assert.Equal(5, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Workers:Outbox:BatchSize", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Workers:Outbox:PollingInterval", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Workers:Outbox:PublishTimeout", StringComparison.Ordinal) && e.Contains("LeaseDuration", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Workers:Outbox:MaxRetryDelay", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Workers:Outbox:DispatchedRetention", StringComparison.Ordinal));
    }

    [Fact]
    public void InvalidInboxOptions_AreReportedWithTheirPaths()
    {
        var errors = new InboxOptions { Retention = TimeSpan.Zero, CleanupInterval = TimeSpan.FromSeconds(-1) }.Validate();

        Assert.Equal(["Workers:Inbox:Retention must be positive (was 00:00:00).", "Workers:Inbox:CleanupInterval must be positive (was -00:00:01)."], errors);
    }

    [Fact]
    public void CleanupBatchBounds_OutOfRange_AreReportedWithTheirPaths()
    {
        var inbox = new InboxOptions { CleanupBatchSize = 0, MaxCleanupBatches = 100_001 }.Validate();
        var outbox = new OutboxOptions { PurgeBatchSize = 100_001, MaxPurgeBatches = 0 }.Validate("Workers:Outbox");

        Assert.Equal(
            ["Workers:Inbox:CleanupBatchSize must be between 1 and 100000 (was 0).", "Workers:Inbox:MaxCleanupBatches must be between 1 and 100000 (was 100001)."],
            inbox);
        Assert.Equal(
            ["Workers:Outbox:PurgeBatchSize must be between 1 and 100000 (was 100001).", "Workers:Outbox:MaxPurgeBatches must be between 1 and 100000 (was 0)."],
            outbox);
    }

    [Fact]
    public void AddWorkersOutbox_WithInvalidOptions_FailsOptionsValidation()
    {
        var services = new ServiceCollection();
        services.AddWorkersOutbox<Support.TestDb>(o => o.BatchSize = -1);
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<OutboxOptions>>().Value);
        Assert.Contains("Workers:Outbox:BatchSize", error.Message, StringComparison.Ordinal);
    }
}
