using System.Diagnostics;
using System.Globalization;
using Xunit;

namespace Workers.FaultTests;

/// <summary>
/// Scenario 9: a slow and broken network between the worker and the broker (a proxy of the test's own): latency with
/// jitter, slicing into tiny writes, half-open (stalled, nothing closed), cut. Throughput degrades, correctness holds,
/// consumers resume by themselves after each heal. Each phase lasts a fixed time under load: the phase IS the fault.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class NetworkFaultTests(FaultNode node, FaultReport report)
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task SlowSlicedStalledAndCutNetwork_CorrectnessHolds_ConsumersResumeAfterHeal()
    {
        await using var scenario = await FaultScenario.StartAsync(node, "net");
        await using var proxy = new FaultyProxy(node.AmqpPort);
        var worker = await scenario.StartWorkerUnderLoadAsync(node.VhostUri(scenario.Vhost, proxy.Port));

        var phases = new List<string>();
        var heals = new List<(string Name, long Tick)>();
        async Task RunPhaseAsync(string name, Action fault, TimeSpan length)
        {
            var before = scenario.Observer.Accepted.Count;
            fault();
            scenario.Note("fault: " + name);
            var watch = Stopwatch.StartNew();
            await Task.Delay(length, FaultScenario.Cancel);
            var rate = (scenario.Observer.Accepted.Count - before) / watch.Elapsed.TotalSeconds;
            proxy.Heal();
            heals.Add((name, scenario.Clock.ElapsedTicks));
            scenario.Note("healed: " + name);
            phases.Add(string.Create(CultureInfo.InvariantCulture, $"{name} {rate:F0}/s"));
            await scenario.WaitForProgressAsync(100, FaultScenario.Bound, worker);
        }

        await RunPhaseAsync("clean", () => { }, Phase);
        await RunPhaseAsync("latency 40±30ms", () => proxy.Slow(40, 30), Phase);
        await RunPhaseAsync("slices of 7B", () => proxy.Slice(7), Phase);
        await RunPhaseAsync("latency+slices", () =>
        {
            proxy.Slow(20, 20);
            proxy.Slice(16);
        }, Phase);
        await RunPhaseAsync("half-open 8s", proxy.HalfOpen, TimeSpan.FromSeconds(8));
        await RunPhaseAsync("cut 3s", proxy.Cut, TimeSpan.FromSeconds(3));

        var settled = await scenario.SettleAsync("9 network faults", null, string.Empty);
        var recoveries = heals.Select(h => (h.Name, Recovery: scenario.RecoverySince(h.Tick))).ToList();
        var row = settled with
        {
            Recovery = recoveries.Max(r => r.Recovery),
            Notes = "throughput " + string.Join(", ", phases) + "; recovery " + string.Join(", ", recoveries.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Name} {r.Recovery?.TotalSeconds:F1}s"))),
        };
        report.Add(row);
        scenario.AssertSound(row);
        scenario.AssertNoHealthyOrderDeadLettered(row);
        Assert.False(worker.HasExited);
    }
}
