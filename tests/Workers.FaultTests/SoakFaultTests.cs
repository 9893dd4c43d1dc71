using System.Diagnostics;
using System.Globalization;
using Xunit;

namespace Workers.FaultTests;

/// <summary>
/// Scenario 10: sustained load near the measured maximum for a bounded time (<see cref="FaultSettings.SoakDuration"/>,
/// 45 s in CI; <c>WORKERS_FAULT_SOAK_SECONDS</c> for minutes): worker RSS, thread count and p99 end-to-end latency
/// (broker confirm to OrderAccepted seen) stay flat between the first and the last fifth of the run; nothing lost.
/// </summary>
[Collection(FaultCollection.Name)]
[Trait(FaultTraits.Broker, FaultTraits.SingleVersion)] // the worker's own resources over time; the broker version plays no part
public sealed class SoakFaultTests(FaultNode node, FaultReport report)
{
    private static readonly TimeSpan Calibration = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task SustainedLoadNearMaximum_MemoryThreadsAndLatencyStayFlat_NothingLost()
    {
        await using var scenario = await FaultScenario.StartAsync(node, "soak");
        var worker = scenario.StartWorker();
        await scenario.WaitConsumingAsync(worker);

        // Calibrate: offer more than the worker can take for a few seconds and measure what it consumes.
        var before = scenario.Observer.Accepted.Count;
        var watch = Stopwatch.StartNew();
        scenario.StartLoad(rate: 1000, max: Calibration);
        await scenario.WaitLoadAsync();
        await Task.Delay(TimeSpan.FromSeconds(1), FaultScenario.Cancel); // let the tail of the burst drain into the measurement window
        var maximum = (scenario.Observer.Accepted.Count - before) / watch.Elapsed.TotalSeconds;
        var rate = Math.Max(50, (int)(maximum * 0.7));
        await FaultScenario.WaitUntilAsync(async () => await scenario.Observer.ReadyCountAsync("submit-order", FaultScenario.Cancel) == 0, FaultScenario.Bound, "the calibration burst drained", worker);
        scenario.Note(string.Create(CultureInfo.InvariantCulture, $"measured ~{maximum:F0}/s; soaking at {rate}/s for {FaultSettings.SoakDuration.TotalSeconds:F0}s"));

        var soakStart = scenario.Clock.ElapsedTicks;
        scenario.StartLoad(rate, FaultSettings.SoakDuration);
        var fifth = FaultSettings.SoakDuration / 5;
        await Task.Delay(fifth, FaultScenario.Cancel);
        var start = Sample(worker.Id);
        await Task.Delay(fifth * 3, FaultScenario.Cancel);
        var end = Sample(worker.Id);
        await scenario.WaitLoadAsync();
        var loadEnd = scenario.Clock.ElapsedTicks;
        var row = await scenario.SettleAsync("10 soak", null, string.Empty);

        // The latency windows lie inside the load (the settling after it sends nothing).
        var span = loadEnd - soakStart;
        var (p99Start, startSamples) = P99(scenario, soakStart, soakStart + (span / 5));
        var (p99End, endSamples) = P99(scenario, soakStart + (span * 3 / 5), soakStart + (span * 4 / 5));
        row = row with
        {
            Notes = string.Create(CultureInfo.InvariantCulture, $"max ~{maximum:F0}/s, soak {rate}/s x {FaultSettings.SoakDuration.TotalSeconds:F0}s; RSS {start.RssMb:F0}->{end.RssMb:F0} MB; threads {start.Threads}->{end.Threads}; p99 {p99Start.TotalMilliseconds:F0}->{p99End.TotalMilliseconds:F0} ms ({startSamples}/{endSamples} samples)"),
        };
        report.Add(row);
        scenario.AssertSound(row);
        Assert.True(row.DeadLettered == 0, scenario.DeadLetterSummary(scenario.Load.Confirmed.Keys));
        Assert.True(end.RssMb - start.RssMb < 150, row.Notes);
        Assert.True(end.Threads - start.Threads < 40, row.Notes);
        // A window without samples proves nothing about latency: each must hold a fair share of the soak's messages.
        var expectedPerWindow = rate * FaultSettings.SoakDuration.TotalSeconds / 5;
        Assert.True(startSamples >= expectedPerWindow / 2 && endSamples >= expectedPerWindow / 2, $"too few latency samples for a p99 (want >= {expectedPerWindow / 2:F0} per window): {row.Notes}");
        Assert.True(p99End < (p99Start * 5) + TimeSpan.FromSeconds(1), row.Notes);
    }

    private static (double RssMb, int Threads) Sample(int pid)
    {
        double rss = 0;
        var threads = 0;
        foreach (var line in File.ReadAllLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
            }
            else if (line.StartsWith("Threads:", StringComparison.Ordinal))
            {
                threads = int.Parse(line.Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }

        return (rss, threads);
    }

    private static (TimeSpan P99, int Samples) P99(FaultScenario scenario, long from, long to)
    {
        var latencies = scenario.Load.Confirmed
            .Where(c => c.Value >= from && c.Value < to && scenario.Observer.FirstArrival.ContainsKey(c.Key))
            .Select(c => scenario.Observer.FirstArrival[c.Key] - c.Value)
            .Order()
            .ToList();
        return latencies.Count == 0
            ? (TimeSpan.Zero, 0)
            : (TimeSpan.FromSeconds((double)latencies[(int)(latencies.Count * 0.99)] / Stopwatch.Frequency), latencies.Count);
    }
}
