using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Workers.Hosting;
using Workers.Postgres;
using Workers.Resilience;
using Xunit;
using RedeliveryOptions = Workers.Resilience.RedeliveryOptions;

namespace Workers.Hosting.Tests.Options;

public sealed class InboxRetentionRuleTests
{
    [Fact]
    public void Horizon_OfTheBuiltInDefaults_IsTheSumOfTheLadder()
    {
        // 5 redeliveries from 1 s doubling: 1 + 2 + 4 + 8 + 16 s.
        Assert.Equal(TimeSpan.FromSeconds(31), InboxRetentionRule.Horizon(new RedeliveryOptions()));
    }

    [Fact]
    public void Horizon_TakesJitterAtItsTop_ThenTheCap()
    {
        var jittered = new RedeliveryOptions { MaxRedeliveryAttempts = 4, Delay = TimeSpan.FromMinutes(1), MaxDelay = TimeSpan.FromMinutes(2), UseJitter = true };

        // 72 s (60 + 20 %), then 144, 288, 576 s capped at 120 s.
        Assert.Equal(TimeSpan.FromSeconds(72 + 120 + 120 + 120), InboxRetentionRule.Horizon(jittered));
    }

    [Fact]
    public void Horizon_RoundsEachDelayUpToTheLadderUnit_AndCountsImmediateRetries()
    {
        var options = new RedeliveryOptions
        {
            MaxRedeliveryAttempts = 2,
            Delay = TimeSpan.FromMilliseconds(150),
            BackoffType = RedeliveryBackoffType.Constant,
            ImmediateRetries = 2,
            ImmediateRetryDelay = TimeSpan.FromSeconds(1),
        };

        // 2 × 200 ms in the ladder, + 2 immediate retries of 1 s on each of the 3 deliveries.
        Assert.Equal(TimeSpan.FromMilliseconds(400) + TimeSpan.FromSeconds(6), InboxRetentionRule.Horizon(options));
    }

    [Fact]
    public void Horizon_WithoutRedeliveries_IsZero()
    {
        Assert.Equal(TimeSpan.Zero, InboxRetentionRule.Horizon(new RedeliveryOptions { MaxRedeliveryAttempts = 0 }));
    }

    [Fact]
    public void Collect_Defaults_AreValid()
    {
        Assert.Empty(InboxRetentionRule.Collect(new WorkersOptions(), ["orders", "payments"], new InboxOptions()));
    }

    [Fact]
    public void Collect_RetentionShorterThanAnEndpointsHorizon_NamesTheRetentionAndTheRedeliveryPath()
    {
        var options = new WorkersOptions();
        options.Endpoints["slow"] = new EndpointOptions { Redelivery = SlowLadder() };

        var errors = InboxRetentionRule.Collect(options, ["fast", "slow"], new InboxOptions());

        // 1 + 2 + 4 h, then 27 × 6 h = 169 h, + 1 h margin.
        var error = Assert.Single(errors);
        Assert.StartsWith("Workers:Inbox:Retention (7.00:00:00) must be longer than the redelivery horizon of endpoint 'slow'", error, StringComparison.Ordinal);
        Assert.Contains("30 redeliveries (Workers:Endpoints:slow:Redelivery) take up to 7.01:00:00", error, StringComparison.Ordinal);
        Assert.Contains("= 7.02:00:00", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Collect_LongEnoughRetention_OrNoInbox_OrNoCleanup_IsValid()
    {
        var options = new WorkersOptions();
        options.Endpoints["slow"] = new EndpointOptions { Redelivery = SlowLadder() };
        options.Endpoints["no-inbox"] = new EndpointOptions { Redelivery = SlowLadder(), Inbox = false };

        Assert.Empty(InboxRetentionRule.Collect(options, ["slow"], new InboxOptions { Retention = TimeSpan.FromDays(8) }));
        Assert.Empty(InboxRetentionRule.Collect(options, ["no-inbox"], new InboxOptions()));
        Assert.Empty(InboxRetentionRule.Collect(options, ["slow"], new InboxOptions { EnableCleanup = false }));
    }

    [Fact]
    public void Collect_UsesTheExactLadder_NotAttemptsTimesMaxDelay()
    {
        // 10 × MaxDelay would be 190 days; the real ladder is 1 + 2 + … + 512 s = 1023 s.
        var options = new WorkersOptions();
        options.Defaults.Redelivery = new RedeliveryOptions { MaxRedeliveryAttempts = 10, MaxDelay = TimeSpan.FromDays(19) };

        Assert.Empty(InboxRetentionRule.Collect(options, ["orders"], new InboxOptions { Retention = TimeSpan.FromHours(2) }));
        var error = Assert.Single(InboxRetentionRule.Collect(options, ["orders"], new InboxOptions { Retention = TimeSpan.FromHours(1) }));
        Assert.Contains("10 redeliveries (Workers:Defaults:Redelivery) take up to 00:17:03", error, StringComparison.Ordinal);
    }

    [Fact]
    public void HostStart_ShortRetention_IsReportedWithEveryOtherError()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Workers:ShutdownTimeout"] = "00:00:00",
            ["Workers:Inbox:Retention"] = "1.00:00:00",
            ["Workers:Inbox:CleanupInterval"] = "-00:00:01",
            ["Workers:Endpoints:slow:Redelivery:MaxRedeliveryAttempts"] = "10",
            ["Workers:Endpoints:slow:Redelivery:Delay"] = "01:00:00",
            ["Workers:Endpoints:slow:Redelivery:MaxDelay"] = "06:00:00",
        });
        builder.AddWorkers(w => w.AddConsumer<PingConsumer>("slow").UsePostgres<RetentionDb>());
        using var provider = builder.Services.BuildServiceProvider();

        var failure = Assert.ThrowsAny<Exception>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        var text = failure is AggregateException aggregate ? string.Join('\n', aggregate.InnerExceptions.Select(e => e.Message)) : failure.Message;
        Assert.Contains("Workers:ShutdownTimeout", text, StringComparison.Ordinal);
        Assert.Contains("Workers:Inbox:CleanupInterval must be positive", text, StringComparison.Ordinal);
        Assert.Contains("Workers:Inbox:Retention (1.00:00:00) must be longer than the redelivery horizon of endpoint 'slow'", text, StringComparison.Ordinal);
        Assert.Contains("10 redeliveries (Workers:Endpoints:slow:Redelivery) take up to 2.01:00:00", text, StringComparison.Ordinal);
    }

    [Fact]
    public void HostStart_RetentionLongerThanTheHorizon_Starts()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Workers:Inbox:Retention"] = "3.00:00:00",
            ["Workers:Endpoints:slow:Redelivery:MaxRedeliveryAttempts"] = "10",
            ["Workers:Endpoints:slow:Redelivery:Delay"] = "01:00:00",
            ["Workers:Endpoints:slow:Redelivery:MaxDelay"] = "06:00:00",
        });
        builder.AddWorkers(w => w.AddConsumer<PingConsumer>("slow").UsePostgres<RetentionDb>());
        using var provider = builder.Services.BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();
        Assert.Equal(TimeSpan.FromDays(3), provider.GetRequiredService<IOptions<InboxOptions>>().Value.Retention);
    }

    private static RedeliveryOptions SlowLadder() =>
        new() { MaxRedeliveryAttempts = 30, Delay = TimeSpan.FromHours(1), MaxDelay = TimeSpan.FromHours(6) };

    public sealed record Ping;

    public sealed class PingConsumer : IConsumer<Ping>
    {
        public Task Consume(ConsumeContext<Ping> context) => Task.CompletedTask;
    }

    public sealed class RetentionDb(DbContextOptions<RetentionDb> options) : DbContext(options)
    {
        protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.AddWorkersOutbox().AddWorkersInbox();
    }
}
