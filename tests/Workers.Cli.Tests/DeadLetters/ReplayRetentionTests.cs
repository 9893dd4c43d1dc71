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
    public void Check_SplitsByFirstFailure_AgainstNowMinusRetention()
    {
        var old = Message("old", firstFailure: Now.AddDays(-8), lastFailure: Now.AddDays(-1));
        var fresh = Message("fresh", firstFailure: Now.AddDays(-6), lastFailure: Now.AddDays(-6));
        var ageless = Message("ageless", firstFailure: null, lastFailure: null);

        var check = ReplayRetention.Check([old, fresh, ageless], TimeSpan.FromDays(7), Now);

        // The first failure counts, not the last: the inbox row (if any) is as old as the first delivery.
        Assert.Equal(["old"], check.Beyond.Select(m => m.MessageId));
        Assert.Equal(["ageless"], check.Unknown.Select(m => m.MessageId));
    }

    [Fact]
    public void Check_MassTransitTimestamp_StandsInForAMissingFirstFailure()
    {
        var properties = new BasicProperties
        {
            MessageId = "mt",
            Headers = new Dictionary<string, object?> { [WorkersHeaders.FaultTimestamp] = Now.AddDays(-30).ToString("O") },
        };

        var check = ReplayRetention.Check([new DeadLetterMessage(1, properties, [], 0)], TimeSpan.FromDays(7), Now);

        Assert.Equal(["mt"], check.Beyond.Select(m => m.MessageId));
    }

    [Fact]
    public void Refusal_OnlyWhenBeyond_AndNeitherAllowedNorADryRun()
    {
        var check = ReplayRetention.Check([Message("old", Now.AddDays(-8), Now.AddDays(-8))], TimeSpan.FromDays(7), Now);
        var none = ReplayRetention.Check([Message("fresh", Now.AddHours(-1), Now.AddHours(-1))], TimeSpan.FromDays(7), Now);

        Assert.StartsWith("replay refused: 1 matched message(s) are older than the inbox retention (7.00:00:00)", ReplayRetention.Refusal(check, ReplayRetentionPolicy.Default, dryRun: false), StringComparison.Ordinal);
        Assert.Null(ReplayRetention.Refusal(check, ReplayRetentionPolicy.Default with { AllowBeyondRetention = true }, dryRun: false));
        Assert.Null(ReplayRetention.Refusal(check, ReplayRetentionPolicy.Default, dryRun: true));
        Assert.Null(ReplayRetention.Refusal(none, ReplayRetentionPolicy.Default, dryRun: false));
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

        var dryRun = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "retention", "--dry-run"), cancellationToken: ct);
        var longer = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "retention", "--dry-run", "--inbox-retention", "30d"), cancellationToken: ct);
        var refused = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "retention"), cancellationToken: ct);
        var leftAfterRefusal = await Broker.ReadyCountAsync("retention_error");
        var targetAfterRefusal = await Broker.CountOrZeroAsync("retention-target");
        var allowed = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "retention", "--allow-beyond-retention"), cancellationToken: ct);

        Assert.True(dryRun.ExitCode == 0, dryRun.ToString());
        Assert.Contains("1 message(s) first failed longer ago than the inbox retention (7.00:00:00)", dryRun.Error, StringComparison.Ordinal);
        Assert.Contains($"beyond retention: {old}", dryRun.Error, StringComparison.Ordinal);
        Assert.True(longer.ExitCode == 0, longer.ToString());
        Assert.DoesNotContain("beyond retention", longer.Error, StringComparison.Ordinal);

        Assert.True(refused.ExitCode == ExitCodes.Failure, refused.ToString());
        Assert.Contains("replay refused: 1 matched message(s) are older than the inbox retention (7.00:00:00); nothing was replayed", refused.ToString(), StringComparison.Ordinal);
        Assert.Equal(2u, leftAfterRefusal);
        Assert.Equal(0u, targetAfterRefusal);

        Assert.True(allowed.ExitCode == 0, allowed.ToString());
        Assert.Contains("matched 2, replayed 2", allowed.Output, StringComparison.Ordinal);
        Assert.Equal([old, fresh], (await Broker.DrainAsync("retention-target")).Select(m => m.MessageId).ToList());
    }
}
