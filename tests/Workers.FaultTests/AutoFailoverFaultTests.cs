using System.Globalization;
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
        using var watchStatus = new CancellationTokenSource();
        var statusSeen = WatchStatusAsync(await worker.WaitForListeningAsync(FaultScenario.Bound), watchStatus.Token);
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

        // What readiness and /workers/status said during the outage (printed): the inbox's database check turns Degraded
        // while its statements fail (the worker holds messages, /health/ready stays 200); the outbox check says "failover
        // in progress" while the split-brain check finds no primary at all (until pg_auto_failover promotes the
        // candidate, which then holds writes with pg_is_in_recovery() already false).
        await watchStatus.CancelAsync();
        var seen = await statusSeen;
        scenario.Note($"worker readiness/status during the outage: {string.Join(" | ", seen)}");
        Assert.Contains(seen, s => s.StartsWith("ready 200 workers-inbox-database: Degraded", StringComparison.Ordinal));

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
            FaultScenario.DatabaseFailoverSettleBound);
        report.Add(row);
        TestContext.Current.SendDiagnosticMessage($"auto-failover: write outage {outage.TotalSeconds:F1} s, recovery {recovery.TotalSeconds:F1} s, lost {row.Lost}");

        // The ledger the figures come from is the promoted node's (or whichever the manager made primary since).
        Assert.NotEqual(old.Port, await FaultDatabaseServer.PortAsync(scenario.Database.ConnectionString, FaultScenario.Cancel));
        scenario.AssertSound(row);
        scenario.AssertNoHealthyOrderDeadLettered(row);
        Assert.False(worker.HasExited);
    }

    /// <summary>
    /// Scenario 14: a second node lost while the formation is degraded. Under load through the inbox and the outbox the
    /// primary is killed and the manager promotes a standby (one primary, one secondary, one node down); then the last
    /// standby is killed too. The manager must not go asynchronous (no <c>wait_primary</c>, the primary keeps a
    /// synchronous standby name): writes wait, the worker's commits fail as non-durable and its messages wait in the
    /// broker. The standby comes back, writes resume, the first node rejoins; every confirmed order is applied and
    /// notified exactly once.
    /// </summary>
    [Fact]
    public async Task SecondNodeLostWhileDegraded_WritesWaitForAStandby_NothingLostNothingTwice()
    {
        Assert.SkipUnless(formation.Available, LocalPostgresAutoFailover.SkipReason);
        await using var scenario = await FaultScenario.StartAsync(node, "autofail2", database: ct => AutoFailoverFaultDatabase.CreateAsync(formation, ct));
        var worker = await scenario.StartWorkerUnderLoadAsync(progress: 100, rate: 25);
        await using var probe = await WriteOutageProbe.StartAsync(scenario.Database.ConnectionString, scenario.Clock, FaultScenario.Cancel);
        var first = await formation.PrimaryAsync(FaultScenario.Cancel);
        scenario.Note($"formation: {await formation.DescribeAsync(FaultScenario.Cancel)}");

        await formation.KillNodeAsync(first.Name);
        var firstFault = scenario.Clock.ElapsedTicks;
        scenario.Note($"primary {first.Name} killed");
        FormationNode? primary = null;
        FormationNode? standby = null;
        await FaultScenario.WaitUntilAsync(
            async () =>
            {
                var nodes = await formation.NodesAsync(FaultScenario.Cancel);
                // (right after the kill both standbys still report secondary: only a promotion settles it)
                var primaries = nodes.Where(n => n.Name != first.Name && n is { Reported: "primary", Assigned: "primary" }).ToList();
                var standbys = nodes.Where(n => n.Name != first.Name && n is { Reported: "secondary", Assigned: "secondary" }).ToList();
                (primary, standby) = primaries.Count == 1 && standbys.Count == 1 ? (primaries[0], standbys[0]) : (null, null);
                return primary is not null;
            },
            LocalPostgresAutoFailover.HealBound,
            "the manager promoted a standby and the other one follows it (degraded: one node down)",
            worker);
        var firstOutage = probe.LongestGapAfter(firstFault);
        var degraded = await formation.DescribeAsync(FaultScenario.Cancel);
        scenario.Note(string.Create(CultureInfo.InvariantCulture, $"degraded: {degraded}; write outage {firstOutage?.TotalSeconds:F1} s"));
        var firstRecovery = await scenario.WaitForRecoveryAsync(firstFault, worker);
        await scenario.WaitForProgressAsync(50, FaultScenario.Bound, worker);

        // The second loss: the last standby. Held down until the monitor has acted on it (it takes the standby out of the
        // quorum: assigned catchingup) and commits are seen waiting for a standby on the primary. (A client whose
        // statement timeout cancels that wait gets success with a warning — the probe's writes after its 5 s timeout are
        // such, counted as acknowledged; the worker's durable-commit guard refuses them: NonDurableCommitException.)
        var acknowledgedBefore = probe.Acknowledged;
        var failedBefore = probe.Failures;
        await formation.KillNodeAsync(standby!.Name);
        var secondFault = scenario.Clock.ElapsedTicks;
        scenario.Note($"last standby {standby.Name} killed while {primary!.Name} is primary");
        await FaultScenario.WaitUntilAsync(
            async () => (await formation.NodesAsync(FaultScenario.Cancel)).Single(n => n.Name == standby.Name) is { Health: 0, Assigned: not "secondary" },
            FaultScenario.Bound,
            $"the monitor marks {standby.Name} unhealthy and takes it out of the quorum",
            worker);
        long waiting = 0;
        await FaultScenario.WaitUntilAsync(
            async () => (waiting = await LocalPostgresAutoFailover.CommitsWaitingForAStandbyAsync(primary.Port, FaultScenario.Cancel)) > 0,
            FaultScenario.Bound,
            $"commits on {primary.Name} waiting for a synchronous standby (pg_stat_activity wait_event SyncRep)",
            worker);
        var during = await formation.NodesAsync(FaultScenario.Cancel);
        var synchronous = await LocalPostgresAutoFailover.SynchronousStandbyNamesAsync(primary.Port, FaultScenario.Cancel);
        scenario.Note($"{standby.Name} out: {string.Join(", ", during.Select(n => $"{n.Name} {n.Reported}/{n.Assigned}"))}; {primary.Name} synchronous_standby_names '{synchronous}', {waiting} commit(s) waiting for a standby");
        var stillPrimary = during.Single(n => n.Name == primary.Name);
        Assert.True(stillPrimary is { Reported: "primary", Assigned: "primary" }, $"the manager must not take {primary.Name} out of synchronous replication (wait_primary writes without a standby): {stillPrimary.Reported}/{stillPrimary.Assigned}");
        Assert.NotEqual(string.Empty, synchronous.Trim());

        // The standby comes back: commits are replicated again and the held messages go through.
        await formation.RestartNodeAsync(standby.Name);
        var back = scenario.Clock.ElapsedTicks;
        scenario.Note(string.Create(CultureInfo.InvariantCulture, $"{standby.Name} restarted after {(double)(back - secondFault) / System.Diagnostics.Stopwatch.Frequency:F1} s down; probe writes meanwhile: acknowledged {probe.Acknowledged - acknowledgedBefore} (a cancelled wait: committed locally, with the warning), failed {probe.Failures - failedBefore}"));
        await FaultScenario.WaitUntilAsync(() => Task.FromResult(probe.WroteAfter(back)), LocalPostgresAutoFailover.HealBound, "a write acknowledged after the standby's return", worker);
        var recovery = await scenario.WaitForRecoveryAsync(back, worker);
        await scenario.WaitForProgressAsync(50, FaultScenario.Bound, worker);

        // The first node rejoins; the formation is whole again while the worker keeps going.
        await formation.HealAsync(LocalPostgresAutoFailover.HealBound, FaultScenario.Cancel);
        scenario.Note($"whole again: {await formation.DescribeAsync(FaultScenario.Cancel)}");
        await scenario.WaitForProgressAsync(50, FaultScenario.Bound, worker);

        var nonDurable = worker.Output.Split('\n').Count(l => l.Contains(nameof(Workers.Postgres.NonDurableCommitException), StringComparison.Ordinal));
        var row = await scenario.SettleAsync(
            "14 auto-failover second node lost while degraded",
            recovery,
            string.Create(CultureInfo.InvariantCulture, $"{first.Name}→{primary.Name} write outage {firstOutage?.TotalSeconds:F1}s (recovery {firstRecovery.TotalSeconds:F1}s); then {standby.Name} lost {(double)(back - secondFault) / System.Diagnostics.Stopwatch.Frequency:F1}s: commits waited for a standby ({waiting} seen waiting), sync names '{synchronous}'; worker lines naming NonDurableCommitException {nonDurable}; resent {scenario.Load.Resent}; {scenario.WorkerLogCounts()}"),
            FaultScenario.DatabaseFailoverSettleBound);
        report.Add(row);
        TestContext.Current.SendDiagnosticMessage(string.Create(CultureInfo.InvariantCulture, $"auto-failover degraded: last standby down {(double)(back - secondFault) / System.Diagnostics.Stopwatch.Frequency:F1} s, commits waiting {waiting}, recovery {recovery.TotalSeconds:F1} s, lost {row.Lost}"));
        scenario.AssertSound(row);
        scenario.AssertNoHealthyOrderDeadLettered(row);
        Assert.False(worker.HasExited);
    }

    /// <summary>
    /// Polls the worker's <c>/health/ready</c> and <c>/workers/status</c> every 250 ms until cancelled; returns each
    /// distinct "check: status" of a readiness check that was not Healthy (with its first description) and each
    /// distinct outbox topology, in the order first seen.
    /// </summary>
    private static async Task<List<string>> WatchStatusAsync(Uri worker, CancellationToken cancellationToken)
    {
        var seen = new List<string>();
        var keys = new HashSet<string>();
        using var http = new HttpClient { BaseAddress = worker, Timeout = TimeSpan.FromSeconds(2) };
        void See(string key, string text)
        {
            if (keys.Add(key))
            {
                seen.Add(text);
            }
        }

        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                using var ready = await http.GetAsync("/health/ready", cancellationToken);
                using var report = System.Text.Json.JsonDocument.Parse(await ready.Content.ReadAsStringAsync(cancellationToken));
                foreach (var check in report.RootElement.GetProperty("checks").EnumerateObject())
                {
                    var status = Text(check.Value, "status");
                    if (status != "Healthy")
                    {
                        See($"{check.Name} {status}", $"ready {(int)ready.StatusCode} {check.Name}: {status} {Text(check.Value, "description")}");
                    }
                }

                using var state = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("/workers/status", cancellationToken));
                if (state.RootElement.TryGetProperty("outbox", out var outbox) && outbox.ValueKind == System.Text.Json.JsonValueKind.Object)
                {
                    See($"topology {Text(outbox, "topology")}", $"status topology {Text(outbox, "topology")}: {Text(outbox, "status")} {Text(outbox, "description")}");
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
            {
            }

            try
            {
                await Task.Delay(250, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return seen;

        static string Text(System.Text.Json.JsonElement element, string name) =>
            element.TryGetProperty(name, out var value) && value.ValueKind != System.Text.Json.JsonValueKind.Null ? value.ToString() : "-";
    }
}
