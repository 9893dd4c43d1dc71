using System.Diagnostics;
using System.Globalization;
using Npgsql;
using Xunit;

namespace Workers.Testing;

/// <summary>
/// The automatic-failover PostgreSQL of <c>scripts/services.sh autofailover-up</c>: a pg_auto_failover monitor and three
/// nodes (n1..n3) on loopback, synchronous (<c>number_sync_standbys = 1</c>). The test does not promote anything: it
/// breaks a node (<see cref="KillNodeAsync"/>: kill -9 of its keeper and its postgres) and the manager fails over.
/// <see cref="ConnectionString"/> is the manager's own multi-host URI (<see cref="ConnectionStringVariable"/>, from
/// <c>pg_autoctl show uri</c>); <see cref="DirectoryVariable"/> is where the nodes' data and pg_autoctl's files live.
/// A test skips itself with <see cref="SkipReason"/> when <see cref="Available"/> is false (the variables are unset);
/// <c>scripts/test.sh</c> starts the formation and fails the run when it does not come up.
/// </summary>
/// <remarks>
/// Shared, long-lived servers (unlike <see cref="LocalPostgresReplicaSet"/>): each test class works in a database of its
/// own (<see cref="CreateDatabaseAsync"/>), and <see cref="InitializeAsync"/> and <see cref="DisposeAsync"/> bring every
/// node back (restart killed keepers, wait until one primary and two secondaries), so the next user finds it whole.
/// </remarks>
public sealed class LocalPostgresAutoFailover : IAsyncLifetime
{
    /// <summary>The manager's multi-host connection string (Npgsql keywords, primary-only sessions).</summary>
    public const string ConnectionStringVariable = "WORKERS_POSTGRES_AUTOFAILOVER";

    /// <summary>The formation's folder: monitor and n1..n3 data, pg_autoctl's XDG folders, logs.</summary>
    public const string DirectoryVariable = "WORKERS_POSTGRES_AUTOFAILOVER_DIR";

    /// <summary>Why a test on the formation is skipped.</summary>
    public const string SkipReason =
        "No automatic-failover PostgreSQL: " + ConnectionStringVariable + " is not set (scripts/services.sh autofailover-up && eval \"$(scripts/services.sh env)\").";

    /// <summary>How long the formation may take to be whole again after a node comes back.</summary>
    public static readonly TimeSpan HealBound = TimeSpan.FromSeconds(120);

    private readonly bool asRoot = Environment.UserName == "root";
    private readonly string bin = Directory.Exists("/usr/lib/postgresql/15/bin") ? "/usr/lib/postgresql/15/bin" : "/usr/bin";
    private readonly HashSet<string> killed = [];

    /// <summary>Reads the variables (nothing is contacted before <see cref="InitializeAsync"/>).</summary>
    public LocalPostgresAutoFailover()
    {
        ConnectionString = TestEnvironment.Get(ConnectionStringVariable) ?? string.Empty;
        BaseDirectory = TestEnvironment.Get(DirectoryVariable) ?? string.Empty;
        if (ConnectionString.Length > 0)
        {
            var hosts = new NpgsqlConnectionStringBuilder(ConnectionString).Host ?? string.Empty;
            // The monitor listens one port below the first node (services.sh: base, base+1..base+3).
            var first = hosts.Split(',').Select(h => int.Parse(h[(h.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture)).Min();
            MonitorPort = first - 1;
        }
    }

    /// <summary>Whether the formation is configured.</summary>
    public bool Available => ConnectionString.Length > 0 && BaseDirectory.Length > 0;

    /// <summary>The manager's multi-host, primary-only connection string (database <c>postgres</c>).</summary>
    public string ConnectionString { get; }

    /// <summary>The formation's folder.</summary>
    public string BaseDirectory { get; }

    /// <summary>The monitor's port.</summary>
    public int MonitorPort { get; }

    /// <summary>The manager's connection string for database <paramref name="database"/>, with the client settings a worker would use.</summary>
    public string ConnectionStringFor(string database) => new NpgsqlConnectionStringBuilder(ConnectionString)
    {
        Database = database,
        Timeout = 3,
        CommandTimeout = 15,
        HostRecheckSeconds = 1,
    }.ConnectionString;

    /// <summary>A single node, any role, unpooled.</summary>
    public static string NodeConnectionString(int port, string database = "postgres") => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = port,
        Username = "postgres",
        Database = database,
        Pooling = false,
        Timeout = 3,
    }.ConnectionString;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        if (!Available)
        {
            return;
        }

        await HealAsync(HealBound);
    }

    /// <summary>The monitor's view of every node: name, port, reported and assigned state, health.</summary>
    public async Task<IReadOnlyList<FormationNode>> NodesAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(NodeConnectionString(MonitorPort, "pg_auto_failover")) { Username = "autoctl_node" }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT nodename, nodeport, reportedstate::text, goalstate::text, health FROM pgautofailover.node ORDER BY nodeid", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var nodes = new List<FormationNode>();
        while (await reader.ReadAsync(cancellationToken))
        {
            nodes.Add(new FormationNode(reader.GetString(0), reader.GetInt32(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4)));
        }

        return nodes;
    }

    /// <summary>The monitor's states in one line, e.g. <c>n1 primary/primary, n2 secondary/secondary, ...</c>.</summary>
    public async Task<string> DescribeAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return string.Join(", ", (await NodesAsync(cancellationToken)).Select(n => $"{n.Name} {n.Reported}/{n.Assigned}"));
        }
        catch (NpgsqlException e)
        {
            return $"monitor unreachable: {e.Message}";
        }
    }

    /// <summary>The node the monitor reports as primary now (waits, bounded, while none is).</summary>
    public async Task<FormationNode> PrimaryAsync(CancellationToken cancellationToken = default)
    {
        FormationNode? primary = null;
        await Eventually.HoldsAsync(
            async () => (primary = (await NodesAsync(cancellationToken)).SingleOrDefault(n => n.Reported == "primary" && n.Assigned == "primary")) is not null,
            HealBound,
            () => DescribeAsync(cancellationToken),
            cancellationToken);
        return primary!;
    }

    /// <summary>
    /// <c>synchronous_standby_names</c> of the node on <paramref name="port"/>, as its postgres runs with it: empty means
    /// commits are acknowledged without waiting for any standby.
    /// </summary>
    public static async Task<string> SynchronousStandbyNamesAsync(int port, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(NodeConnectionString(port));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SHOW synchronous_standby_names", connection);
        return (string)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>How many sessions of the node on <paramref name="port"/> wait for a synchronous standby to confirm their commit.</summary>
    public static async Task<long> CommitsWaitingForAStandbyAsync(int port, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(NodeConnectionString(port));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'", connection);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Creates a database of its own on the current primary (replicated synchronously to the standbys); returns the
    /// manager's connection string for it (<see cref="ConnectionStringFor"/>).
    /// </summary>
    public async Task<string> CreateDatabaseAsync(string prefix, CancellationToken cancellationToken = default)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(40, prefix.Length + 33)];
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionStringFor("postgres")) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
        return ConnectionStringFor(name);
    }

    /// <summary>Drops a database made by <see cref="CreateDatabaseAsync"/> (best effort: the formation may be mid-failover).</summary>
    public async Task DropDatabaseAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        NpgsqlConnection.ClearAllPools();
        try
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionStringFor("postgres")) { Pooling = false }.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
            await command.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
        }
    }

    /// <summary>
    /// kill -9 of node <paramref name="name"/>: its keeper (the <c>pg_autoctl run</c> process group: supervisor, node
    /// active, postgres controller) and its postgres (the postmaster of its data folder). Nothing restarts it until
    /// <see cref="RestartNodeAsync"/>.
    /// </summary>
    public async Task KillNodeAsync(string name)
    {
        var data = NodeData(name);
        var postmaster = ReadPid(Path.Combine(data, "postmaster.pid"));
        var keeper = ReadPid(KeeperPidFile(data));
        killed.Add(name);
        if (keeper is { } k)
        {
            var group = await ProcessGroupAsync(k);
            await RunAsync("kill", ["-KILL", "--", $"-{group}"], allowFailure: true);
        }

        if (postmaster is { } p)
        {
            await RunAsync("kill", ["-KILL", p.ToString(CultureInfo.InvariantCulture)], allowFailure: true);
        }

        // Bounded wait until the postmaster is gone (its port refuses connections).
        var watch = Stopwatch.StartNew();
        while (postmaster is { } gone && ProcessAlive(gone) && watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(100);
        }
    }

    /// <summary>Starts node <paramref name="name"/>'s keeper again (<c>pg_autoctl run</c>); it rejoins as the monitor assigns.</summary>
    public async Task RestartNodeAsync(string name)
    {
        var data = NodeData(name);
        // A postmaster killed with -9 can leave orphaned backends holding its shared memory for a moment: the keeper
        // retries starting postgres by itself, so no wait is needed here.
        var log = Path.Combine(BaseDirectory, $"{name}.log");
        var environment = $"PATH={bin}:/usr/bin:/bin XDG_CONFIG_HOME={BaseDirectory}/xdg/config XDG_DATA_HOME={BaseDirectory}/xdg/data XDG_RUNTIME_DIR={BaseDirectory}/xdg/run";
        var user = asRoot ? "runuser -u postgres -- " : string.Empty;
        await RunAsync("/bin/sh", ["-c", $"cd / && setsid {user}env {environment} pg_autoctl run --pgdata '{data}' >>'{log}' 2>&1 </dev/null &"]);
        killed.Remove(name);
    }

    /// <summary>
    /// Restarts every keeper that is not running and waits (bounded) until the monitor reports one primary and two
    /// secondaries, each in its assigned state.
    /// </summary>
    public async Task HealAsync(TimeSpan bound, CancellationToken cancellationToken = default)
    {
        foreach (var name in new[] { "n1", "n2", "n3" })
        {
            var keeper = ReadPid(KeeperPidFile(NodeData(name)));
            if (keeper is null || !ProcessAlive(keeper.Value))
            {
                await RestartNodeAsync(name);
            }
        }

        await Eventually.HoldsAsync(
            async () =>
            {
                var nodes = await NodesAsync(cancellationToken);
                return nodes.All(n => n.Reported == n.Assigned)
                    && nodes.Count(n => n.Reported == "primary") == 1
                    && nodes.Count(n => n.Reported == "secondary") == nodes.Count - 1;
            },
            bound,
            () => DescribeAsync(cancellationToken),
            cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!Available)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        await HealAsync(HealBound);
    }

    private string NodeData(string name) => Path.Combine(BaseDirectory, name);

    // pg_autoctl keeps its pid file under $XDG_RUNTIME_DIR/pg_autoctl/<pgdata path>/pg_autoctl.pid.
    private string KeeperPidFile(string data) => Path.Combine(BaseDirectory, "xdg", "run", "pg_autoctl", data.TrimStart('/'), "pg_autoctl.pid");

    private static int? ReadPid(string file)
    {
        try
        {
            return int.TryParse(File.ReadLines(file).FirstOrDefault(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static bool ProcessAlive(int pid) => Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    private static async Task<int> ProcessGroupAsync(int pid)
    {
        // /proc/<pid>/stat: "pid (comm) state ppid pgrp ...": the comm may hold spaces, so split after the last ')'.
        var stat = await File.ReadAllTextAsync($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[2], CultureInfo.InvariantCulture);
    }

    private static async Task RunAsync(string file, IReadOnlyList<string> arguments, bool allowFailure = false)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = "/tmp" };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {file}.");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stderr = process.StandardError.ReadToEndAsync(cts.Token);
        await process.WaitForExitAsync(cts.Token);
        if (process.ExitCode != 0 && !allowFailure)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await stderr}");
        }
    }
}

/// <summary>One node as the pg_auto_failover monitor sees it.</summary>
/// <param name="Name">Node name (n1..n3).</param>
/// <param name="Port">Its postgres port.</param>
/// <param name="Reported">The state its keeper last reported (primary, secondary, wait_primary, ...).</param>
/// <param name="Assigned">The state the monitor assigned it.</param>
/// <param name="Health">The monitor's health check verdict: 1 healthy, 0 unhealthy, -1 not checked yet.</param>
public sealed record FormationNode(string Name, int Port, string Reported, string Assigned, int Health);
