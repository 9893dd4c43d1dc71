using Microsoft.Extensions.Time.Testing;
using Workers.Cli.Broker;
using Workers.Cli.Output;
using Xunit;

namespace Workers.Cli.Tests.Output;

public sealed class ProgressAndPacingTests
{
    [Fact]
    public void Progress_WhenNotATerminal_WritesALineAtMostOncePerSecond()
    {
        var time = new FakeTimeProvider();
        using var error = new StringWriter();
        var console = new CliConsole(TextWriter.Null, error, TextReader.Null, false, interactive: false, time);
        var progress = new ProgressReporter(console, "published", 100);

        progress.Report(10);
        time.Advance(TimeSpan.FromMilliseconds(500));
        progress.Report(20);
        time.Advance(TimeSpan.FromMilliseconds(600));
        progress.Report(30);
        progress.Report(40);
        time.Advance(TimeSpan.FromSeconds(1));
        progress.Report(50);

        Assert.Equal(["progress: 30/100 published", "progress: 50/100 published"], error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    [Fact]
    public void Progress_OnATerminal_DrawsABarInPlace()
    {
        var time = new FakeTimeProvider();
        using var error = new StringWriter();
        var console = new CliConsole(TextWriter.Null, error, TextReader.Null, false, interactive: true, time);
        var progress = new ProgressReporter(console, "replayed", 4);

        time.Advance(TimeSpan.FromSeconds(1));
        progress.Report(2);
        progress.Report(4);
        progress.Complete();

        Assert.Contains("\r[###############---------------] 2/4 replayed", error.ToString(), StringComparison.Ordinal);
        Assert.EndsWith("\r[##############################] 4/4 replayed" + Environment.NewLine, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pacer_SpacesOperationsByTheRate()
    {
        var time = new FakeTimeProvider();
        var pacer = new Pacer(2, time);

        await pacer.WaitAsync(TestContext.Current.CancellationToken);
        var second = pacer.WaitAsync(TestContext.Current.CancellationToken);
        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(499));
        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await second.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
    }
}
