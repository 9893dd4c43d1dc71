using System.Diagnostics;
using System.Globalization;
using Workers.Testing;
using Xunit;

namespace Workers.FaultTests;

/// <summary>
/// Scenario 3: one node of the local 3-node cluster killed with SIGKILL under load, with every endpoint on quorum
/// queues and the worker configured as compose runs it (URI on node 1, nodes 2 and 3 as <c>ClusterNodes</c>). The node
/// killed is the one the worker is connected to (the leader of <c>submit-order</c> when it is there too): the queues
/// elect new leaders among the two survivors, the worker reconnects to a survivor and keeps consuming, nothing is lost;
/// then the node is started again and rejoins its queues. The producer and the observer use node 3, never killed.
/// </summary>
[Collection(FaultCollection.Name)]
[Trait(FaultTraits.Broker, FaultTraits.SingleVersion)] // the local cluster is RabbitMQ 3.10 (no 4.0 cluster here)
public sealed class ClusterNodeFaultTests(LocalRabbitMqCluster cluster, FaultReport report) : IClassFixture<LocalRabbitMqCluster>
{
    private static readonly string[] Queues = ["submit-order", "order-accepted"];

    /// <summary>Settle bound: a backlog built on a busy machine drains at the worker's pace.</summary>
    private static readonly TimeSpan SettleBound = TimeSpan.FromMinutes(3);

    /// <summary>
    /// Steady load, per second: quorum queues replicate every message to three nodes on the same two cores, so the worker
    /// takes far fewer than on one node; a load above that only builds a backlog (recovery then measures its drain).
    /// </summary>
    private static int Rate => Math.Min(FaultSettings.Rate, 50);

    [Fact]
    public async Task NodeKilledUnderLoad_QuorumQueuesElectNewLeaders_WorkerKeepsConsuming_NothingLost()
    {
        var broker = new ClusterBroker(cluster);
        await using var scenario = await FaultScenario.StartAsync(broker, "cluster");
        var worker = await scenario.StartWorkerUnderLoadAsync(rate: Rate, progress: 100);

        // Quorum queues with a member on every node, and the worker's connections listed by the management API.
        var leaders = new Dictionary<string, int>();
        await FaultScenario.WaitUntilAsync(
            async () =>
            {
                foreach (var queue in Queues)
                {
                    if (await broker.QueueLeaderAsync(scenario.Vhost, queue, FaultScenario.Cancel) is not { Online: LocalRabbitMqCluster.NodeCount } info)
                    {
                        return false;
                    }

                    leaders[queue] = info.Leader;
                }

                return true;
            },
            FaultScenario.Bound,
            "submit-order and order-accepted are quorum queues with a member online on every node",
            worker);
        IReadOnlyList<int> workerNodes = [];
        await FaultScenario.WaitUntilAsync(
            async () => (workerNodes = await broker.WorkerNodesAsync(scenario.Vhost, FaultScenario.Cancel)).Any(n => n != ClusterBroker.ClientNode),
            FaultScenario.Bound,
            "the worker's connections listed on a node other than the test clients' one",
            worker);
        var candidates = workerNodes.Where(n => n != ClusterBroker.ClientNode).ToList();
        var target = candidates.Contains(leaders["submit-order"]) ? leaders["submit-order"] : candidates[0];
        var before = string.Create(CultureInfo.InvariantCulture, $"worker on {string.Join("+", workerNodes.Select(ClusterBroker.Label))}, leaders submit-order {ClusterBroker.Label(leaders["submit-order"])} order-accepted {ClusterBroker.Label(leaders["order-accepted"])}");
        scenario.Note(before + $"; killing {ClusterBroker.Label(target)}");

        var backlog = await scenario.Observer.ReadyCountAsync("submit-order", FaultScenario.Cancel);
        var fault = scenario.Clock.ElapsedTicks;
        await cluster.KillNodeAsync(target, FaultScenario.Cancel);
        scenario.Note($"{ClusterBroker.Label(target)} killed (SIGKILL)");

        // The survivors carry on: new leaders among them, the worker consumes again (through a surviving node).
        TimeSpan recovery;
        string rates;
        var after = new Dictionary<string, int>();
        try
        {
            recovery = await scenario.WaitForRecoveryAsync(fault, worker);
            await scenario.WaitForProgressAsync(150, FaultScenario.Bound, worker);
            rates = string.Create(CultureInfo.InvariantCulture, $"accepted {scenario.AcceptedRate(fault, TimeSpan.FromSeconds(5)):F0}/s before, {scenario.AcceptedRate(scenario.Clock.ElapsedTicks, TimeSpan.FromSeconds(5)):F0}/s after");
            await FaultScenario.WaitUntilAsync(
                async () =>
                {
                    foreach (var queue in Queues)
                    {
                        if (await broker.QueueLeaderAsync(scenario.Vhost, queue, FaultScenario.Cancel) is not { } info || info.Leader == target)
                        {
                            return false;
                        }

                        after[queue] = info.Leader;
                    }

                    return true;
                },
                FaultScenario.Bound,
                $"both queues led by a survivor of {ClusterBroker.Label(target)}",
                worker);
            scenario.Note($"leaders now submit-order {ClusterBroker.Label(after["submit-order"])} order-accepted {ClusterBroker.Label(after["order-accepted"])}");
        }
        catch (Exception)
        {
            // The node comes back whatever failed: a cluster stopped while its first node is down cannot be started again
            // by cluster-up (that node waits at boot for peers the script starts after it). The scenario's failure counts.
            try
            {
                await cluster.RestartKilledNodeAsync(target, CancellationToken.None);
            }
            catch (Exception restartFailure) when (restartFailure is InvalidOperationException or TimeoutException)
            {
                scenario.Note($"{ClusterBroker.Label(target)} could not be restarted: {restartFailure.Message}");
            }

            throw;
        }

        // The node comes back and rejoins its queues; work keeps flowing.
        var restart = Stopwatch.StartNew();
        await cluster.RestartKilledNodeAsync(target, FaultScenario.Cancel);
        await FaultScenario.WaitUntilAsync(
            async () =>
            {
                foreach (var queue in Queues)
                {
                    if (await broker.QueueLeaderAsync(scenario.Vhost, queue, FaultScenario.Cancel) is not { Online: LocalRabbitMqCluster.NodeCount })
                    {
                        return false;
                    }
                }

                return true;
            },
            FaultScenario.Bound,
            $"{ClusterBroker.Label(target)} back as a member of both queues",
            worker);
        var rejoined = restart.Elapsed;
        scenario.Note($"{ClusterBroker.Label(target)} restarted and rejoined in {rejoined.TotalSeconds:F1}s");
        await scenario.WaitForProgressAsync(100, FaultScenario.Bound, worker);

        var row = await scenario.SettleAsync(
            "3 cluster node kill -9",
            recovery,
            string.Create(CultureInfo.InvariantCulture, $"{Rate}/s; {before}; killed {ClusterBroker.Label(target)} (backlog {backlog}); new leaders {ClusterBroker.Label(after["submit-order"])}/{ClusterBroker.Label(after["order-accepted"])}; rejoined in {rejoined.TotalSeconds:F1}s; resent {scenario.Load.Resent}; transport requeues {scenario.TransportFallbacks()}; {rates}; {scenario.WorkerLogCounts()}"),
            SettleBound);
        report.Add(row);
        scenario.AssertSound(row);
        scenario.AssertNoHealthyOrderDeadLettered(row);
        Assert.False(worker.HasExited);
    }
}
