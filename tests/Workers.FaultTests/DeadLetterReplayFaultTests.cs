using System.Globalization;
using Workers.Testing;
using Xunit;

namespace Workers.FaultTests;

/// <summary>
/// Scenario 12: <c>workers dlq replay</c> (the built CLI, run with dotnet) killed with SIGKILL at random points, then run
/// to completion: every dead-lettered order is applied exactly once (the in-flight one at each kill may be in both
/// queues: the inbox absorbs it), and <c>submit-order_error</c> ends empty.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class DeadLetterReplayFaultTests(FaultNode node, FaultReport report)
{
    private const int Messages = 400;

    [Fact]
    public async Task ReplayKilledAtRandomPoints_ThenCompleted_EveryOrderAppliedOnce()
    {
        await using var scenario = await FaultScenario.StartAsync(node, "replay", drainErrorQueue: false);
        var worker = scenario.StartWorker();
        await scenario.WaitConsumingAsync(worker);
        var headers = new Dictionary<string, object?> { ["Workers-Fault-Queue"] = "submit-order", ["Workers-Fault-Disposition"] = "exhausted", ["MT-Reason"] = "fault" };
        for (var i = 0; i < Messages; i++)
        {
            await scenario.Load.PublishToQueueAsync(QueueObserver.ErrorQueue, Guid.NewGuid(), headers, FaultScenario.Cancel);
        }

        var seed = Environment.TickCount;
        var random = new Random(seed);
        var kills = new List<string>();
        for (var i = 0; i < FaultSettings.Repeats; i++)
        {
            // Kill at a random point once the replay is moving (its first orders are being applied).
            var appliedBefore = scenario.Observer.Accepted.Count;
            await using var cli = StartReplay(scenario);
            await FaultScenario.WaitUntilAsync(() => Task.FromResult(cli.HasExited || scenario.Observer.Accepted.Count > appliedBefore), FaultScenario.Bound, "the replay moves messages");
            var at = TimeSpan.FromMilliseconds(random.Next(0, 800));
            await Task.Delay(at, FaultScenario.Cancel); // the random kill point is the fault itself
            var killed = !cli.HasExited;
            if (killed)
            {
                cli.Kill();
            }

            await cli.WaitForExitAsync(TimeSpan.FromSeconds(30));
            kills.Add(killed ? string.Create(CultureInfo.InvariantCulture, $"+{at.TotalMilliseconds:F0}ms") : "finished-first");
            scenario.Note($"replay {(killed ? "killed" : "finished")} {at.TotalMilliseconds:F0} ms after it started moving; applied so far {scenario.Observer.Accepted.Count}");
        }

        await using (var final = StartReplay(scenario))
        {
            var exit = await final.WaitForExitAsync(FaultScenario.Bound);
            Assert.True(exit == 0, $"final replay exit {exit}: {final.Output}");
        }

        var row = await scenario.SettleAsync($"12 dlq replay SIGKILL x{kills.Count}", null, $"{Messages} dead letters; kills after first move {string.Join("/", kills)} (seed {seed})");
        report.Add(row);
        scenario.AssertSound(row);
        await FaultScenario.WaitUntilAsync(async () => await scenario.Observer.ReadyCountAsync(QueueObserver.ErrorQueue, FaultScenario.Cancel) == 0, FaultScenario.Bound, "submit-order_error empty");
    }

    private static WorkerProcess StartReplay(FaultScenario scenario)
    {
        var root = WorkerProcess.RepositoryRoot();
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var cli = Path.Combine(root, "src", "Workers.Cli", "bin", configuration, "net10.0", "workers.dll");
        Assert.True(File.Exists(cli), $"build the CLI first: {cli}");
        return WorkerProcess.Start(cli, new Dictionary<string, string> { ["WORKERS_RABBITMQ_URI"] = scenario.Broker.ToString() }, "dlq", "replay", "submit-order", "--rate", "200");
    }
}
