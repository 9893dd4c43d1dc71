using Workers.Cli.Tests.Contracts;
using Workers.Cli.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Cli.Tests.DeadLetters;

/// <summary>The built <c>workers</c> executable, killed with SIGKILL in the middle of a replay, loses nothing.</summary>
public sealed class ReplayCrashTests(RabbitMqTestVhost vhost) : BrokerTestClass(vhost)
{
    private const int Messages = 40;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ReplayKilledMidRun_LosesNothing()
    {
        await Broker.DeclareQueueAsync("crash");
        var ids = new List<string>();
        for (var i = 0; i < Messages; i++)
        {
            ids.Add(await Broker.PublishWorkersDeadLetterAsync("crash_error", "crash", new OrderSubmitted { Number = i }, "System.TimeoutException", 3, DateTimeOffset.UtcNow));
        }

        using var process = CliRunner.Start(Broker.Args("dlq", "replay", "crash", "--rate", "10"));
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await Broker.WaitForReadyAsync("crash", n => n >= 5, Timeout);
        process.Kill(entireProcessTree: false);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        var movedAtKill = await Broker.ReadyCountAsync("crash");
        Assert.True(movedAtKill < Messages, $"the kill landed after the replay finished ({movedAtKill} moved); stdout: {await output} stderr: {await error}");

        // The broker returns the killed process's unacknowledged messages once it sees the connection drop.
        await Broker.WaitForReadyAsync("crash_error", n => n + movedAtKill >= Messages, Timeout);
        var inError = await Broker.DrainAsync("crash_error");
        var inTarget = await Broker.DrainAsync("crash");

        Assert.Equal(ids.Order(), inError.Concat(inTarget).Select(m => m.MessageId).Distinct().Order());
        Assert.True(inError.Count + inTarget.Count <= Messages + 1, $"at most the one in-flight message may be duplicated ({inError.Count} + {inTarget.Count})");
        Assert.Equal(ids.Where(id => inError.Any(m => m.MessageId == id)).ToList(), inError.Select(m => m.MessageId).ToList());
    }

    [Fact]
    public async Task ExecutableUsageError_ExitsWithTwo()
    {
        var result = await CliRunner.RunProcessAsync(Broker.Args("dlq", "replay", "crash", "--no-such-option"), Timeout, TestContext.Current.CancellationToken);

        Assert.Equal(2, result.ExitCode);
        Assert.True(result.HasOneLineError, result.ToString());
    }
}
