using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Deploy;

/// <summary>
/// compose/postgres/pgaf.sh — what the compose services monitor, node1..node3 and postgres-init run — run on this
/// machine without Docker by scripts/check-compose-pgaf.sh: a monitor and three nodes on loopback ports 56100–56103,
/// until one primary and two synchronous secondaries, then stopped by pid. Opt-in (WORKERS_COMPOSE_PGAF_CHECK=1): it
/// takes 50–110 s on a 2-core machine, and needs root (runuser) and the postgresql-15-auto-failover package.
/// </summary>
public sealed class ComposeFormationTests
{
    private const string OptInVariable = "WORKERS_COMPOSE_PGAF_CHECK";

    [Fact]
    public async Task ComposePostgresScript_FormsAMonitoredFormation_OnThisMachine()
    {
        if (Environment.GetEnvironmentVariable(OptInVariable) != "1")
        {
            Assert.Skip($"opt-in: set {OptInVariable}=1 (a pg_auto_failover formation on ports 56100–56103, 50–110 s).");
        }

        var script = Path.Combine(LocalRabbitMqCluster.FindRepositoryRoot(), "scripts", "check-compose-pgaf.sh");
        // The script bounds the formation's start (240 s) and its teardown (60 s); this bound is the script's as a whole.
        var output = await LocalRabbitMqCluster.RunAsync("bash", [script], TimeSpan.FromSeconds(330), TestContext.Current.CancellationToken);

        Assert.Contains("formation: primary,secondary,secondary, number_sync_standbys 1", output, StringComparison.Ordinal);
        Assert.Contains("application login: workers@workers; primary: ANY 1 (", output, StringComparison.Ordinal);
        Assert.Contains("OK in ", output, StringComparison.Ordinal);
    }
}
