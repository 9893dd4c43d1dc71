using Workers.Testing;
using Xunit;

namespace Workers.FaultTests;

/// <summary>Scenario 1: the broker connection is cut under load; the worker reconnects by itself and loses nothing.</summary>
[Collection(FaultCollection.Name)]
public sealed class BrokerConnectionFaultTests(FaultNode node, FaultReport report)
{
    [Fact]
    public async Task ConnectionsForcedClosed_WorkerReconnectsByItself_NothingLost()
    {
        await using var scenario = await FaultScenario.StartAsync(node, "close");
        var worker = await scenario.StartWorkerUnderLoadAsync();

        var faults = new List<long>();
        for (var i = 0; i < 2; i++)
        {
            faults.Add(scenario.Clock.ElapsedTicks);
            await node.CloseAllConnectionsAsync("fault test: forced close", FaultScenario.Cancel);
            scenario.Note("close_all_connections");
            await scenario.WaitForProgressAsync(300, FaultScenario.Bound, worker);
        }

        var settled = await scenario.SettleAsync("1 forced close x2", null, string.Empty);
        var recoveries = faults.Select(f => scenario.RecoverySince(f) ?? TimeSpan.MaxValue).ToList();
        var row = settled with { Recovery = recoveries.Max(), Notes = $"recoveries {string.Join("/", recoveries.Select(r => r.TotalSeconds.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}s; resent {scenario.Load.Resent}" };
        report.Add(row);
        scenario.AssertSound(row);
        Assert.False(worker.HasExited);
    }

    [Fact]
    public async Task ProxyCutForSeconds_WorkerReconnectsAfterHeal_NothingLost()
    {
        await using var scenario = await FaultScenario.StartAsync(node, "cut");
        await using var proxy = new TcpProxy("127.0.0.1", node.AmqpPort);
        var worker = await scenario.StartWorkerUnderLoadAsync(node.VhostUri(scenario.Vhost, proxy.Port));

        proxy.Cut();
        scenario.Note("proxy cut");
        await scenario.WaitUntilConsumersAsync(0, FaultScenario.Bound);
        await Task.Delay(TimeSpan.FromSeconds(3), FaultScenario.Cancel); // the outage's length itself is the fault, not a wait for a signal
        var heal = scenario.Clock.ElapsedTicks;
        proxy.Restore();
        scenario.Note("proxy restored");
        await scenario.WaitForProgressAsync(300, FaultScenario.Bound, worker);

        var row = await scenario.SettleAsync("1 proxy cut 3s", null, $"resent {scenario.Load.Resent}");
        row = row with { Recovery = scenario.RecoverySince(heal) };
        report.Add(row);
        scenario.AssertSound(row);
        Assert.True(row.DeadLettered == 0, "a network cut dead-lettered healthy orders: " + scenario.DeadLetterSummary(scenario.Load.Confirmed.Keys) + "\n" + scenario.Diagnostics());
    }
}
