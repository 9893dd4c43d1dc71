using System.Globalization;
using System.Text;
using Workers.Testing;
using Xunit;

namespace Workers.FaultTests;

/// <summary>One scenario's figures (one line each; the suite prints them as a table at the end).</summary>
public sealed record FaultRow(
    string Scenario,
    int Sent,
    int Confirmed,
    int Consumed,
    int Applied,
    int Duplicates,
    int DuplicatesApplied,
    int DeadLettered,
    int Lost,
    TimeSpan? Recovery,
    string Notes)
{
    /// <summary>The figures as one line.</summary>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Scenario,-28} sent={Sent,6} confirmed={Confirmed,6} consumed={Consumed,6} applied={Applied,6} dup-absorbed={Duplicates,4} dup-applied={DuplicatesApplied,2} dead-lettered={DeadLettered,4} LOST={Lost,3} recovery={(Recovery is { } r ? $"{r.TotalSeconds:F2}s" : "-"),7}  {Notes}");
}

/// <summary>
/// Collects every scenario's row; at the end writes the summary table to stdout and to
/// <c>TestResults/fault-summary.txt</c> under the test project's output folder (also <c>WORKERS_FAULT_RESULTS</c> if set).
/// </summary>
public sealed class FaultReport : IAsyncDisposable
{
    private readonly List<FaultRow> rows = [];

    /// <summary>Adds a row and prints it at once.</summary>
    public void Add(FaultRow row)
    {
        lock (rows)
        {
            rows.Add(row);
        }

        var line = "FAULT " + row;
        Console.WriteLine(line);
        TestContext.Current.SendDiagnosticMessage(line);
        TestContext.Current.TestOutputHelper?.WriteLine(line);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        List<FaultRow> copy;
        lock (rows)
        {
            copy = [.. rows];
        }

        if (copy.Count == 0)
        {
            return;
        }

        var text = new StringBuilder();
        var broker = RabbitMqRuntime.FromEnvironment().Version;
        text.AppendLine(CultureInfo.InvariantCulture, $"Fault-injection summary ({DateTime.UtcNow:u}, private node RabbitMQ {broker}, soak {FaultSettings.SoakDuration.TotalSeconds:F0}s)");
        foreach (var row in copy)
        {
            text.AppendLine(row.ToString());
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"TOTAL LOST = {copy.Sum(r => r.Lost)}");
        Console.WriteLine(text.ToString());
        var folder = Path.Combine(AppContext.BaseDirectory, "TestResults");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, broker == "3.10" ? "fault-summary.txt" : $"fault-summary-{broker}.txt"), text.ToString());
        if (Environment.GetEnvironmentVariable("WORKERS_FAULT_RESULTS") is { Length: > 0 } extra)
        {
            await File.WriteAllTextAsync(extra, text.ToString());
        }
    }
}
