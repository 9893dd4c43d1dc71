using System.Globalization;

namespace Workers.Cli.Output;

/// <summary>
/// Progress on standard error: a bar redrawn in place on a terminal, otherwise a line at most once a second.
/// </summary>
internal sealed class ProgressReporter
{
    private const int BarWidth = 30;
    private static readonly TimeSpan LineInterval = TimeSpan.FromSeconds(1);
    private readonly CliConsole console;
    private readonly string verb;
    private readonly long total;
    private long lastWrite;
    private bool drawn;

    public ProgressReporter(CliConsole console, string verb, long total)
    {
        this.console = console;
        this.verb = verb;
        this.total = total;
        lastWrite = console.Time.GetTimestamp();
    }

    public void Report(long done)
    {
        var now = console.Time.GetTimestamp();
        if (done < total && console.Time.GetElapsedTime(lastWrite, now) < (console.Interactive ? TimeSpan.FromMilliseconds(100) : LineInterval))
        {
            return;
        }

        lastWrite = now;
        if (console.Interactive)
        {
            var filled = total <= 0 ? BarWidth : (int)(BarWidth * Math.Min(done, total) / total);
            console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"\r[{new string('#', filled)}{new string('-', BarWidth - filled)}] {done}/{total} {verb}"));
            drawn = true;
        }
        else if (done < total)
        {
            console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"progress: {done}/{total} {verb}"));
        }
    }

    public void Complete()
    {
        if (drawn)
        {
            console.Error.WriteLine();
        }
    }
}
