using RabbitMQ.Client;
using Workers.Cli.DeadLetters;
using Workers.Cli.Tests.Contracts;
using Workers.Cli.Tests.Support;
using Workers.Resilience;
using Workers.Testing;
using Xunit;

namespace Workers.Cli.Tests.DeadLetters;

/// <summary>The pure rules of the replay's retention check.</summary>
public sealed class ReplayRetentionTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Tally_SplitsByFirstFailure_AgainstNowMinusRetention()
    {
        var tally = new ReplayRetentionTally(ReplayRetentionPolicy.Default, Now);

        // The first failure counts, not the last: the inbox row (if any) is as old as the first delivery.
        Assert.True(tally.Observe(Message("old", firstFailure: Now.AddDays(-8), lastFailure: Now.AddDays(-1))));
        Assert.True(tally.Observe(Message("older", firstFailure: Now.AddDays(-20), lastFailure: Now.AddDays(-2))));
        Assert.False(tally.Observe(Message("fresh", firstFailure: Now.AddDays(-6), lastFailure: Now.AddDays(-6))));
        Assert.False(tally.Observe(Message("ageless", firstFailure: null, lastFailure: null)));

        Assert.Equal(2, tally.Beyond);
        Assert.Equal(2, tally.Kept);
        Assert.Equal(1, tally.Unknown);
        Assert.Equal(Now.AddDays(-20), tally.Oldest);
        Assert.Equal(["old", "older"], tally.Shown.Select(m => m.MessageId));
    }

    [Fact]
    public void Tally_NamesAtMostTenMessages_AndCountsTheRest()
    {
        var tally = new ReplayRetentionTally(ReplayRetentionPolicy.Default, Now);
        for (var i = 0; i < 25; i++)
        {
            tally.Observe(Message($"m{i}", Now.AddDays(-8 - i), Now.AddDays(-8)));
        }

        Assert.Equal(25, tally.Beyond);
        Assert.Equal(10, tally.Shown.Count);
        Assert.Equal(Now.AddDays(-32), tally.Oldest);
    }

    [Fact]
    public void Tally_MassTransitTimestamp_StandsInForAMissingFirstFailure()
    {
        var properties = new BasicProperties
        {
            MessageId = "mt",
            Headers = new Dictionary<string, object?> { [WorkersHeaders.FaultTimestamp] = Now.AddDays(-30).ToString("O") },
        };
        var tally = new ReplayRetentionTally(ReplayRetentionPolicy.Default, Now);

        Assert.True(tally.Observe(new DeadLetterMessage(1, properties, [], 0)));
    }

    [Fact]
    public void Refusal_OnlyWhenKept_NotWhenAllowedOrADryRun()
    {
        var old = Message("old", Now.AddDays(-8), Now.AddDays(-8));
        var refused = new ReplayRetentionTally(ReplayRetentionPolicy.Default, Now);
        refused.Observe(old);
        var allowed = new ReplayRetentionTally(ReplayRetentionPolicy.Default with { AllowBeyondRetention = true }, Now);
        allowed.Observe(old);
        var none = new ReplayRetentionTally(ReplayRetentionPolicy.Default, Now);
        none.Observe(Message("fresh", Now.AddHours(-1), Now.AddHours(-1)));

        Assert.StartsWith("replay refused for 1 matched message(s) older than the inbox retention (7.00:00:00): they were not replayed and are still in 'q_error'", refused.Refusal("q_error", dryRun: false), StringComparison.Ordinal);
        Assert.Equal(0, allowed.Kept);
        Assert.Null(allowed.Refusal("q_error", dryRun: false));
        Assert.Null(refused.Refusal("q_error", dryRun: true));
        Assert.Null(none.Refusal("q_error", dryRun: false));
    }

    [Theory]
    [InlineData("7d", 7 * 24 * 60)]
    [InlineData("36h", 36 * 60)]
    [InlineData("90m", 90)]
    [InlineData("7.00:00:00", 7 * 24 * 60)]
    public void ParseDuration_TakesSuffixesAndTimeSpans(string text, int minutes)
    {
        Assert.Equal(TimeSpan.FromMinutes(minutes), ReplayRetention.ParseDuration(text, "--inbox-retention"));
    }

    [Theory]
    [InlineData("0d")]
    [InlineData("-1d")]
    [InlineData("week")]
    [InlineData("7x")]
    public void ParseDuration_RejectsNonPositiveOrMalformed_AsAUsageError(string text)
    {
        var error = Assert.Throws<CliException>(() => ReplayRetention.ParseDuration(text, "--inbox-retention"));
        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.Contains("--inbox-retention", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultRetention_IsTheInboxDefault()
    {
        Assert.Equal(new Workers.Postgres.InboxOptions().Retention, ReplayRetentionPolicy.Default.Retention);
    }

    private static DeadLetterMessage Message(string id, DateTimeOffset? firstFailure, DateTimeOffset? lastFailure)
    {
        var headers = new Dictionary<string, object?>();
        if (firstFailure is { } first)
        {
            headers[WorkersHeaders.FaultFirstFailure] = first.ToString("O");
        }

        if (lastFailure is { } last)
        {
            headers[WorkersHeaders.FaultLastFailure] = last.ToString("O");
        }

        return new DeadLetterMessage(1, new BasicProperties { MessageId = id, Headers = headers }, [], 0);
    }
}

/// <summary><c>dlq replay</c> with dead letters older than the inbox retention, on the real broker.</summary>
public sealed class ReplayRetentionBrokerTests(RabbitMqTestVhost vhost) : BrokerTestClass(vhost)
{
    [Fact]
    public async Task Replay_OfADeadLetterOlderThanTheRetention_IsRefusedUntilAllowed()
    {
        await Broker.DeclareQueueAsync("retention-target");
        var now = DateTimeOffset.UtcNow;
        var old = await Broker.PublishWorkersDeadLetterAsync("retention_error", "retention-target", new OrderSubmitted { Number = 1 }, "System.TimeoutException", 3, now.AddDays(-10));
        var fresh = await Broker.PublishWorkersDeadLetterAsync("retention_error", "retention-target", new OrderSubmitted { Number = 2 }, "System.TimeoutException", 3, now.AddHours(-1));
        var ct = TestContext.Current.CancellationToken;

        var dryRun = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "retention", "--to", "retention-target", "--dry-run"), cancellationToken: ct);
        var longer = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "retention", "--to", "retention-target", "--dry-run", "--inbox-retention", "30d"), cancellationToken: ct);
        var refused = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "retention", "--to", "retention-target"), cancellationToken: ct);
        var leftAfterRefusal = await Broker.ReadyCountAsync("retention_error");

        Assert.True(dryRun.ExitCode == 0, dryRun.ToString());
        Assert.Contains("1 message(s) first failed longer ago than the inbox retention (7.00:00:00)", dryRun.Error, StringComparison.Ordinal);
        Assert.Contains($"beyond retention: {old}", dryRun.Error, StringComparison.Ordinal);
        Assert.Contains($"would keep {old}", dryRun.Output, StringComparison.Ordinal);
        Assert.Contains("dry run: matched 2, would replay 1, skipped 0, would keep 1 beyond the inbox retention", dryRun.Output, StringComparison.Ordinal);
        Assert.True(longer.ExitCode == 0, longer.ToString());
        Assert.DoesNotContain("beyond retention", longer.Error, StringComparison.Ordinal);

        // Streaming: the old one is kept in place (not replayed), the fresh one goes, and the run fails naming the kept one.
        Assert.True(refused.ExitCode == ExitCodes.Failure, refused.ToString());
        Assert.Contains("replay refused for 1 matched message(s) older than the inbox retention (7.00:00:00): they were not replayed and are still in 'retention_error'", refused.ToString(), StringComparison.Ordinal);
        Assert.Contains("matched 2, replayed 1, skipped 0, failed 0, kept 1 beyond the inbox retention", refused.Output, StringComparison.Ordinal);
        Assert.Equal(1u, leftAfterRefusal);
        Assert.Equal([fresh], (await Broker.DrainAsync("retention-target")).Select(m => m.MessageId).ToList());

        var allowed = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "retention", "--to", "retention-target", "--allow-beyond-retention"), cancellationToken: ct);
        Assert.True(allowed.ExitCode == 0, allowed.ToString());
        Assert.Contains("matched 1, replayed 1", allowed.Output, StringComparison.Ordinal);
        Assert.Equal([old], (await Broker.DrainAsync("retention-target")).Select(m => m.MessageId).ToList());
        Assert.Equal(0u, await Broker.ReadyCountAsync("retention_error"));
    }
}
