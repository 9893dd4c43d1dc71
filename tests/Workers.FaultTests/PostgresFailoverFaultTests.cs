using System.Diagnostics;
using System.Globalization;
using Workers.Testing;
using Xunit;

namespace Workers.FaultTests;

/// <summary>
/// Scenario 6: the PostgreSQL primary (synchronous standby beside it, <see cref="LocalPostgresReplicaSet"/>) killed
/// with SIGKILL while the worker writes through its inbox and outbox under load, and the standby promoted. The worker's
/// connection string lists both hosts (primary-only sessions): it carries on against the new primary by itself. Every
/// confirmed order is applied and notified exactly once, read back from the new primary; none dead-lettered.
/// </summary>
[Collection(FaultCollection.Name)]
[Trait(FaultTraits.Broker, FaultTraits.SingleVersion)] // the fault is the database's; the broker version plays no part
public sealed class PostgresFailoverFaultTests(FaultNode node, LocalPostgresReplicaSet replicaSet, FaultReport report) : IClassFixture<LocalPostgresReplicaSet>
{

    [Fact]
    public async Task PrimaryKilledUnderLoad_StandbyPromoted_WorkerCarriesOnAgainstNewPrimary_NothingLostNothingTwice()
    {
        await using var scenario = await FaultScenario.StartAsync(node, "pgfail", database: ct => ReplicaSetFaultDatabase.CreateAsync(replicaSet, ct));
        var worker = await scenario.StartWorkerUnderLoadAsync();

        var backlog = await scenario.Observer.ReadyCountAsync("submit-order", FaultScenario.Cancel);
        var fault = scenario.Clock.ElapsedTicks;
        var outage = Stopwatch.StartNew();
        replicaSet.KillPrimary();
        scenario.Note("primary killed (SIGKILL)");
        await replicaSet.PromoteStandbyAsync();
        var promoted = outage.Elapsed;
        scenario.Note($"standby promoted {promoted.TotalMilliseconds:F0} ms after the kill");

        var recovery = await scenario.WaitForRecoveryAsync(fault, worker);
        await scenario.WaitForProgressAsync(300, FaultScenario.Bound, worker);
        var rates = string.Create(CultureInfo.InvariantCulture, $"accepted {scenario.AcceptedRate(fault, TimeSpan.FromSeconds(5)):F0}/s before, {scenario.AcceptedRate(scenario.Clock.ElapsedTicks, TimeSpan.FromSeconds(5)):F0}/s after");
        Assert.Null(await replicaSet.IsPrimaryAsync(replicaSet.PrimaryPort, FaultScenario.Cancel)); // the old primary is gone for good
        Assert.True(await replicaSet.IsPrimaryAsync(replicaSet.StandbyPort, FaultScenario.Cancel));

        var row = await scenario.SettleAsync(
            "6 postgres primary kill -9",
            recovery,
            string.Create(CultureInfo.InvariantCulture, $"backlog at kill {backlog}; promoted +{promoted.TotalMilliseconds:F0}ms; resent {scenario.Load.Resent}; transport requeues {scenario.TransportFallbacks()}; {rates}; {scenario.WorkerLogCounts()}"),
            FaultScenario.DatabaseFailoverSettleBound);
        report.Add(row);

        // The ledger the figures come from is the new primary's.
        Assert.Equal(replicaSet.StandbyPort, await FaultDatabaseServer.PortAsync(scenario.Database.ConnectionString, FaultScenario.Cancel));
        scenario.AssertSound(row);
        scenario.AssertNoHealthyOrderDeadLettered(row);
        Assert.False(worker.HasExited);
    }
}
