using System.Diagnostics;
using System.Globalization;
using Xunit;

namespace Workers.FaultTests;

/// <summary>Scenarios 4 and 5: the worker process dies (SIGKILL) or is stopped (SIGTERM) under load.</summary>
[Collection(FaultCollection.Name)]
public sealed class WorkerProcessFaultTests(FaultNode node, FaultReport report)
{
    [Fact]
    public async Task WorkerKilledMidProcessing_RestartedWorkerRedeliversInFlight_EffectsExactlyOnce()
    {
        await using var scenario = await FaultScenario.StartAsync(node, "kill");
        var worker = await scenario.StartWorkerUnderLoadAsync();

        var restarts = new List<TimeSpan>();
        for (var i = 0; i < Math.Max(2, FaultSettings.Repeats); i++)
        {
            await scenario.Metrics.ScrapeAsync(FaultScenario.Cancel);
            worker.Kill();
            Assert.NotEqual(0, await worker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            scenario.Note($"worker {worker.Id} killed (SIGKILL)");
            var restart = Stopwatch.StartNew();
            worker = scenario.StartWorker();
            await scenario.WaitConsumingAsync(worker);
            await scenario.WaitForProgressAsync(200, FaultScenario.Bound, worker);
            restarts.Add(restart.Elapsed);
        }

        var row = await scenario.SettleAsync($"4 SIGKILL worker x{restarts.Count}", restarts.Max(), "restart-to-progress " + string.Join("/", restarts.Select(r => r.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture))) + "s (dup-absorbed: lower bound, killed workers' last scrape)");
        report.Add(row);
        scenario.AssertSound(row);
        Assert.True(row.DeadLettered == 0, scenario.DeadLetterSummary(scenario.Load.Confirmed.Keys));
    }

    [Fact]
    public async Task WorkerSigtermMidLoad_ExitsZero_NothingAckedUnprocessed_NothingLost()
    {
        await using var scenario = await FaultScenario.StartAsync(node, "term");
        var worker = await scenario.StartWorkerUnderLoadAsync(progress: 300);

        await scenario.Metrics.ScrapeAsync(FaultScenario.Cancel);
        var stop = Stopwatch.StartNew();
        worker.Terminate();
        var exitCode = await worker.WaitForExitAsync(TimeSpan.FromSeconds(40));
        var stopped = stop.Elapsed;
        scenario.Note($"SIGTERM: exit {exitCode} after {stopped.TotalSeconds:F2}s");
        Assert.True(exitCode == 0, $"exit code {exitCode}\n{scenario.Diagnostics()}");

        // A message the stopped worker acknowledged without applying it is gone from the broker for good: the
        // successor would never see it, and the accounting below would count it LOST.
        var restart = Stopwatch.StartNew();
        worker = scenario.StartWorker();
        await scenario.WaitConsumingAsync(worker);
        await scenario.WaitForProgressAsync(200, FaultScenario.Bound, worker);
        var row = await scenario.SettleAsync("5 SIGTERM worker", restart.Elapsed, string.Create(CultureInfo.InvariantCulture, $"exit 0 in {stopped.TotalSeconds:F2}s"));
        report.Add(row);
        scenario.AssertSound(row);
        Assert.True(row.DeadLettered == 0, scenario.DeadLetterSummary(scenario.Load.Confirmed.Keys));
    }
}
