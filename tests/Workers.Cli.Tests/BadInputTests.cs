using Workers.Cli.Tests.Contracts;
using Workers.Cli.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Cli.Tests;

/// <summary>Every bad input: a one-line error, a non-zero exit code, nothing lost.</summary>
public sealed class BadInputTests(RabbitMqTestVhost vhost) : BrokerTestClass(vhost)
{
    [Fact]
    public async Task UnknownQueue_FailsWithOneLine()
    {
        var list = await RunAsync("dlq", "list", "no-such-queue");
        var publish = await RunAsync("publish", "no-such-queue", "--type", "A.B", "--body", "{}");

        AssertError(list, 1, "unknown queue 'no-such-queue_error'");
        AssertError(publish, 1, "unknown queue or exchange 'no-such-queue'");
    }

    [Fact]
    public async Task MalformedJson_IsAUsageError_AndNothingIsPublished()
    {
        await Broker.DeclareQueueAsync("bad-json");
        var file = Path.Combine(Path.GetTempPath(), $"workers-cli-{Guid.NewGuid():N}.jsonl");
        await File.WriteAllLinesAsync(file, ["{\"number\":1}", "{\"number\":", "{\"number\":3}"], TestContext.Current.CancellationToken);
        try
        {
            var body = await RunAsync("publish", "bad-json", "--type", "A.B", "--body", "{\"number\":");
            var lines = await RunAsync("publish", "bad-json", "--type", "A.B", "--file", file);
            var notObject = await RunAsync("publish", "bad-json", "--type", "A.B", "--body", "[1,2]");

            AssertError(body, 2, "malformed JSON in --body");
            AssertError(lines, 2, "line 2");
            AssertError(notObject, 2, "must be a JSON object");
            Assert.Equal(0u, await Broker.ReadyCountAsync("bad-json"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task UnreachableBroker_FailsWithOneLine()
    {
        var result = await CliRunner.RunAsync(["dlq", "list", "orders", "--rabbitmq", "amqp://guest:topsecret@127.0.0.1:1/"], cancellationToken: TestContext.Current.CancellationToken);

        AssertError(result, 1, "cannot reach the broker");
        Assert.DoesNotContain("topsecret", result.Error + result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongCredentials_FailWithOneLine_AndNeverEchoThePassword()
    {
        var uri = new UriBuilder(Vhost.Uri) { Password = "wrong-pass-4711" }.Uri;

        var result = await CliRunner.RunAsync(["dlq", "list", "orders", "--rabbitmq", uri.ToString()], cancellationToken: TestContext.Current.CancellationToken);

        AssertError(result, 1, "refused the credentials");
        Assert.DoesNotContain("wrong-pass-4711", result.Error + result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConflictingOptions_AreUsageErrors()
    {
        var since = await RunAsync("dlq", "replay", "orders", "--since", "2026-01-02T00:00:00Z", "--until", "2026-01-01T00:00:00Z");
        var canary = await RunAsync("dlq", "replay", "orders", "--canary", "5", "--max", "2");
        var bodyAndFile = await RunAsync("publish", "orders", "--type", "A.B", "--body", "{}", "--file", "x.jsonl");
        var badType = await RunAsync("publish", "orders", "--type", "not a type", "--body", "{}");
        var purgeAll = await RunAsync("dlq", "purge", "orders", "--all", "--type", "A.B", "--yes");
        var unknownOption = await RunAsync("dlq", "list", "orders", "--bogus");
        var optionAsQueue = await RunAsync("dlq", "list", "--bogus");
        var missingType = await RunAsync("publish", "orders", "--body", "{}");

        AssertError(since, 2, "--since is later than --until");
        AssertError(canary, 2, "--canary is larger than --max");
        AssertError(bodyAndFile, 2, "--body and --file");
        AssertError(badType, 2, "--type");
        AssertError(purgeAll, 2, "--all cannot be combined");
        AssertError(unknownOption, 2, "--bogus");
        AssertError(optionAsQueue, 2, "unknown option '--bogus'");
        AssertError(missingType, 2, "--type");
    }

    [Fact]
    public async Task ReplayTargetThatDoesNotExist_FailsAndMovesNothing()
    {
        var fromHeaders = await Broker.PublishWorkersDeadLetterAsync("orphan_error", "orphan-gone", new OrderSubmitted { Number = 1 }, "System.TimeoutException", 3, DateTimeOffset.UtcNow);
        var second = await Broker.PublishWorkersDeadLetterAsync("orphan_error", "orphan-gone", new OrderSubmitted { Number = 2 }, "System.TimeoutException", 3, DateTimeOffset.UtcNow);

        var derived = await RunAsync("dlq", "replay", "orphan");
        var explicitTarget = await RunAsync("dlq", "replay", "orphan", "--to", "also-missing");
        var errorTarget = await RunAsync("dlq", "replay", "orphan", "--to", "orphan_error");

        // The target is the dead-letter queue's endpoint ('orphan'), not the queue the fault headers name.
        AssertError(derived, 1, "replay target queue 'orphan' (the endpoint of 'orphan_error') does not exist");
        AssertError(explicitTarget, 1, "replay target queue 'also-missing' does not exist");
        AssertError(errorTarget, 2, "dead-letter queue");
        Assert.Equal([fromHeaders, second], (await Broker.DrainAsync("orphan_error")).Select(m => m.MessageId).ToList());
    }

    [Fact]
    public async Task EnvironmentVariables_AreUsed_WhenNoOptionIsGiven()
    {
        var environment = new Dictionary<string, string?> { ["WORKERS_RABBITMQ_URI"] = Vhost.Uri.ToString() };

        var result = await CliRunner.RunAsync(["dlq", "list", "env-queue"], null, name => environment.GetValueOrDefault(name), TestContext.Current.CancellationToken);

        AssertError(result, 1, $"unknown queue 'env-queue_error' in vhost '{Vhost.Name}'");
    }

    [Fact]
    public async Task NoCommand_IsAUsageError_AndHelpSucceeds()
    {
        var none = await CliRunner.RunAsync([], cancellationToken: TestContext.Current.CancellationToken);
        var help = await CliRunner.RunAsync(["dlq", "replay", "--help"], cancellationToken: TestContext.Current.CancellationToken);

        AssertError(none, 2, "Required command");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("--canary", help.Output, StringComparison.Ordinal);
    }

    private Task<CliResult> RunAsync(params string[] args) => CliRunner.RunAsync(Broker.Args(args), cancellationToken: TestContext.Current.CancellationToken);

    private static void AssertError(CliResult result, int exitCode, string contains)
    {
        Assert.True(result.ExitCode == exitCode, result.ToString());
        Assert.True(result.HasOneLineError, result.ToString());
        Assert.Contains(contains, result.Error, StringComparison.Ordinal);
    }
}
