using System.Diagnostics;
using System.Globalization;
using Workers.Testing;
using Xunit;

namespace Workers.FaultTests;

/// <summary>
/// Scenario 7: the payment provider goes down for a while (switched at runtime through the sample's overrides file):
/// the endpoint's breaker opens, the queue holds, nothing is dead-lettered for the outage, everything is consumed after it.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class DependencyOutageFaultTests(FaultNode node, FaultReport report)
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(8);

    [Fact]
    public async Task PaymentDown_BreakerOpens_QueueHolds_NothingDeadLettered_AllConsumedAfterRecovery()
    {
        await using var scenario = await FaultScenario.StartAsync(node, "outage");
        var overrides = Path.Combine(Path.GetTempPath(), $"fault-overrides-{Guid.NewGuid():N}.json");
        try
        {
            var (worker, http) = await StartThenPaymentDownAsync(scenario, overrides);
            var opened = scenario.Clock.Elapsed;
            scenario.Note("breaker open");
            uint maxDepth = 0;
            var outage = Stopwatch.StartNew();
            while (outage.Elapsed < Outage)
            {
                maxDepth = Math.Max(maxDepth, await scenario.Observer.ReadyCountAsync("submit-order", FaultScenario.Cancel));
                await Task.Delay(250, FaultScenario.Cancel);
            }

            var heal = scenario.Clock.ElapsedTicks;
            await File.WriteAllTextAsync(overrides, Payment(down: false), FaultScenario.Cancel);
            scenario.Note($"payment up; queue depth peaked at {maxDepth}");
            await scenario.WaitForProgressAsync(300, FaultScenario.Bound, worker);
            var opens = await OpenTransitionsAsync(http);
            var row = await scenario.SettleAsync("7 payment outage 8s", null, string.Create(CultureInfo.InvariantCulture, $"breaker opened x{opens}, queue peak {maxDepth}"));
            row = row with { Recovery = scenario.RecoverySince(heal) };
            report.Add(row);
            scenario.AssertSound(row);
            Assert.True(row.DeadLettered == 0, "the outage dead-lettered orders: " + scenario.DeadLetterSummary(scenario.Load.Confirmed.Keys) + "\n" + scenario.Diagnostics());
            Assert.True(maxDepth > 0, "the queue held messages during the outage");
        }
        finally
        {
            File.Delete(overrides);
        }
    }

    [Fact]
    public async Task PaymentDownWhileBrokerKilled_BreakerResumesTheEndpointAfterBoth_NothingLost()
    {
        // The breaker stops and starts its endpoint every second or two while the broker dies and comes back:
        // its starts and stops meet a dead connection and MassTransit's own recovery. Afterwards the endpoint consumes.
        await using var scenario = await FaultScenario.StartAsync(node, "outkill");
        var overrides = Path.Combine(Path.GetTempPath(), $"fault-overrides-{Guid.NewGuid():N}.json");
        try
        {
            var (worker, http) = await StartThenPaymentDownAsync(scenario, overrides);
            for (var i = 0; i < FaultSettings.Repeats; i++)
            {
                var opens = await OpenTransitionsAsync(http);
                await node.KillAsync(FaultScenario.Cancel);
                scenario.Note($"node killed (#{i + 1}) after {opens} openings");
                await node.StartAsync(FaultScenario.Cancel);
                scenario.Note("node started");

                // The breaker goes on probing against the restarted broker: it opens again at least once.
                await FaultScenario.WaitUntilAsync(async () => await OpenTransitionsAsync(http) > opens, FaultScenario.Bound, "the breaker probed and opened again after the restart", worker);
            }

            var heal = scenario.Clock.ElapsedTicks;
            await File.WriteAllTextAsync(overrides, Payment(down: false), FaultScenario.Cancel);
            scenario.Note("payment up");
            await scenario.WaitOneConsumerEachAsync(worker, "the outage");
            await scenario.WaitForProgressAsync(300, FaultScenario.Bound, worker);
            var openings = await OpenTransitionsAsync(http);
            var row = await scenario.SettleAsync($"7b outage + broker kill x{FaultSettings.Repeats}", null, string.Create(CultureInfo.InvariantCulture, $"breaker opened x{openings}; resent {scenario.Load.Resent}; transport requeues {scenario.TransportFallbacks()}"));
            row = row with { Recovery = scenario.RecoverySince(heal) };
            report.Add(row);
            scenario.AssertSound(row);
            scenario.AssertNoHealthyOrderDeadLettered(row);
        }
        finally
        {
            File.Delete(overrides);
        }
    }

    // The worker under load with the payment switch file and a fast breaker; then the payment goes down and the breaker opens.
    private static async Task<(WorkerProcess Worker, Uri Http)> StartThenPaymentDownAsync(FaultScenario scenario, string overrides)
    {
        await File.WriteAllTextAsync(overrides, Payment(down: false), FaultScenario.Cancel);
        var worker = await scenario.StartWorkerUnderLoadAsync(extra: FastBreaker(overrides));
        var http = await worker.WaitForListeningAsync(FaultScenario.Bound);

        await File.WriteAllTextAsync(overrides, Payment(down: true), FaultScenario.Cancel);
        scenario.Note("payment down");
        await FaultScenario.WaitUntilAsync(async () => await OpenTransitionsAsync(http) > 0, FaultScenario.Bound, "the submit-order breaker opened", worker);
        return (worker, http);
    }

    // The payment switch file and a breaker that opens fast and probes every one or two seconds.
    private static Dictionary<string, string> FastBreaker(string overrides) => new()
    {
        ["WORKERS_SAMPLE_OVERRIDES"] = overrides,
        ["Workers__Endpoints__submit-order__CircuitBreaker__FailureRatio"] = "0.5",
        ["Workers__Endpoints__submit-order__CircuitBreaker__MinimumThroughput"] = "10",
        ["Workers__Endpoints__submit-order__CircuitBreaker__SamplingDuration"] = "00:00:05",
        ["Workers__Endpoints__submit-order__CircuitBreaker__BreakDuration"] = "00:00:01",
        ["Workers__Endpoints__submit-order__CircuitBreaker__MaxBreakDuration"] = "00:00:02",
    };

    private static string Payment(bool down) => "{\"Sample\":{\"Payment\":{\"Down\":" + (down ? "true" : "false") + "}}}";

    private static async Task<double> OpenTransitionsAsync(Uri http)
    {
        using var client = new HttpClient { BaseAddress = http, Timeout = TimeSpan.FromSeconds(5) };
        var text = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative), FaultScenario.Cancel);
        return text.Split('\n').Where(l => l.StartsWith("workers_circuit_transitions", StringComparison.Ordinal) && l.Contains("to=\"Open\"", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }
}
