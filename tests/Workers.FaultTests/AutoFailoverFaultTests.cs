using System.Globalization;
using Npgsql;
using Workers.Testing;
using Xunit;

namespace Workers.FaultTests;

/// <summary>
/// Scenario 13: PostgreSQL failover without a human. The database is the pg_auto_failover formation of
/// <c>scripts/services.sh autofailover-up</c> (<see cref="LocalPostgresAutoFailover"/>: monitor + three synchronous
/// nodes); the worker's <c>Workers:Postgres</c> is the manager's multi-host URI. Under load through the inbox and the
/// outbox the primary node is killed (kill -9 of its postgres and its keeper): nobody promotes anything, the manager
/// does. Every confirmed order is applied and notified exactly once, the write outage is measured, the outbox relay
/// resumes by itself; then the killed node is started again and rejoins as a standby while the worker keeps going.
/// </summary>
/// <remarks>
/// What the hand-promoted drill (<see cref="PostgresFailoverFaultTests"/>) still proves and this one cannot: the worker
/// against a promotion that happens at a moment the test chooses (~0.1 s after the kill), the shortest outage.
/// </remarks>
[Collection(FaultCollection.Name)]
[Trait(FaultTraits.Broker, FaultTraits.SingleVersion)] // the fault is the database's; the broker version plays no part
public sealed class AutoFailoverFaultTests(FaultNode node, LocalPostgresAutoFailover formation, FaultReport report) : IClassFixture<LocalPostgresAutoFailover>
{
    /// <summary>Settle bound: a backlog built during the outage drains at the worker's pace.</summary>
    private static readonly TimeSpan SettleBound = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task PrimaryNodeKilledUnderLoad_ManagerFailsOver_WorkerCarriesOn_NothingLostNothingTwice()
    {
        Assert.SkipUnless(formation.Available, LocalPostgresAutoFailover.SkipReason);
        await using var scenario = await FaultScenario.StartAsync(node, "autofail", database: ct => AutoFailoverFaultDatabase.CreateAsync(formation, ct));
        // A load below what the worker sustains on a busy 2-core machine (~40/s here), so that the backlog built during
        // the outage drains in seconds: the scenario's cost is the failover, not the drain.
        var worker = await scenario.StartWorkerUnderLoadAsync(progress: 100, rate: 25);
        await using var probe = await WriteOutageProbe.StartAsync(scenario.Database.ConnectionString, scenario.Clock, FaultScenario.Cancel);
        var old = await formation.PrimaryAsync(FaultScenario.Cancel);
        scenario.Note($"formation: {await formation.DescribeAsync(FaultScenario.Cancel)}");

        var backlog = await scenario.Observer.ReadyCountAsync("submit-order", FaultScenario.Cancel);
        await formation.KillNodeAsync(old.Name);
        var fault = scenario.Clock.ElapsedTicks; // its postmaster is gone: no commit can be acknowledged by it from here
        scenario.Note($"primary {old.Name} killed (kill -9 of its keeper and its postgres)");

        // The manager promotes a standby by itself; writes through the manager's URI resume on it.
        await FaultScenario.WaitUntilAsync(() => Task.FromResult(probe.WroteAfter(fault)), FaultScenario.Bound, "a write through the manager's URI acknowledged after the kill", worker);
        var outage = probe.LongestGapAfter(fault)!.Value;
        // (the promoted node's keeper reports its new state to the monitor a moment after its postgres accepts writes)
        FormationNode? promoted = null;
        await FaultScenario.WaitUntilAsync(
            async () => (promoted = (await formation.NodesAsync(FaultScenario.Cancel)).SingleOrDefault(n => n.Name != old.Name && n.Reported is "wait_primary" or "primary")) is not null,
            FaultScenario.Bound,
            "the monitor reports the promoted node",
            worker);
        var states = await formation.DescribeAsync(FaultScenario.Cancel);
        scenario.Note(string.Create(CultureInfo.InvariantCulture, $"{promoted!.Name} promoted by the manager; write outage {outage.TotalSeconds:F1} s; formation: {states}"));
        Assert.NotEqual(old.Name, promoted.Name);

        var recovery = await scenario.WaitForRecoveryAsync(fault, worker);
        await scenario.WaitForProgressAsync(50, FaultScenario.Bound, worker);

        // The killed node comes back and rejoins as a standby (the manager rewinds it); the worker is not disturbed.
        await formation.RestartNodeAsync(old.Name);
        await formation.HealAsync(LocalPostgresAutoFailover.HealBound, FaultScenario.Cancel);
        scenario.Note($"{old.Name} restarted and rejoined: {await formation.DescribeAsync(FaultScenario.Cancel)}");
        await scenario.WaitForProgressAsync(50, FaultScenario.Bound, worker);

        var rates = string.Create(CultureInfo.InvariantCulture, $"accepted {scenario.AcceptedRate(fault, TimeSpan.FromSeconds(5)):F0}/s before, {scenario.AcceptedRate(scenario.Clock.ElapsedTicks, TimeSpan.FromSeconds(5)):F0}/s after");
        var row = await scenario.SettleAsync(
            "13 auto-failover primary kill -9",
            recovery,
            string.Create(CultureInfo.InvariantCulture, $"backlog at kill {backlog}; write outage {outage.TotalSeconds:F1}s (probe failures {probe.Failures}); {old.Name}→{promoted.Name}; resent {scenario.Load.Resent}; transport requeues {scenario.TransportFallbacks()}; {rates}; {scenario.WorkerLogCounts()}"),
            SettleBound);
        report.Add(row);
        TestContext.Current.SendDiagnosticMessage($"auto-failover: write outage {outage.TotalSeconds:F1} s, recovery {recovery.TotalSeconds:F1} s, lost {row.Lost}");

        // The ledger the figures come from is the promoted node's (or whichever the manager made primary since).
        Assert.NotEqual(old.Port, await ServerPortAsync(scenario.Database.ConnectionString));
        scenario.AssertSound(row);
        scenario.AssertNoHealthyOrderDeadLettered(row);
        Assert.False(worker.HasExited);
    }

    private static async Task<int> ServerPortAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(FaultScenario.Cancel);
        await using var command = new NpgsqlCommand("SELECT inet_server_port()", connection);
        return (int)(await command.ExecuteScalarAsync(FaultScenario.Cancel))!;
    }
}
