using System.Diagnostics;
using System.Net.Sockets;
using Npgsql;
using Xunit;

namespace Workers.Testing;

/// <summary>
/// A throwaway PostgreSQL 15 primary with a synchronous streaming-replication standby on two local ports,
/// for failover drills: <see cref="KillPrimary"/> (kill -9) and <see cref="PromoteStandbyAsync"/>.
/// Runs the server binaries as <c>postgres</c> (through <c>runuser</c> when root), data under
/// <c>/var/tmp/workers-tests/pg-failover-*</c>, loopback only, trust auth. Binaries from <c>WORKERS_PG_BIN</c>,
/// else <c>/usr/lib/postgresql/15/bin</c>, else the PATH. Ports from <c>WORKERS_PG_FAILOVER_PORTS</c>
/// (<c>primary,standby</c>), else 5441 and 5442 (below the kernel's ephemeral range, 32768–60999 here: a port in it can be the source port of any outgoing connection at the moment the server binds — the standby once failed to start mid-suite).
/// </summary>
public sealed class LocalPostgresReplicaSet : IAsyncLifetime
{
    /// <summary>Environment variable with the two ports, <c>primary,standby</c>.</summary>
    public const string PortsVariable = "WORKERS_PG_FAILOVER_PORTS";

    /// <summary>Environment variable with the PostgreSQL binaries folder.</summary>
    public const string BinVariable = "WORKERS_PG_BIN";

    private const string Root = "/var/tmp/workers-tests";
    private readonly string bin;
    private readonly bool asRoot = Environment.UserName == "root";

    /// <summary>Creates the fixture (nothing starts before <see cref="InitializeAsync"/>).</summary>
    public LocalPostgresReplicaSet()
    {
        var ports = Environment.GetEnvironmentVariable(PortsVariable)?.Split(',', StringSplitOptions.TrimEntries);
        PrimaryPort = ports is { Length: 2 } ? int.Parse(ports[0], System.Globalization.CultureInfo.InvariantCulture) : 5441;
        StandbyPort = ports is { Length: 2 } ? int.Parse(ports[1], System.Globalization.CultureInfo.InvariantCulture) : 5442;
        bin = Environment.GetEnvironmentVariable(BinVariable)
            ?? (Directory.Exists("/usr/lib/postgresql/15/bin") ? "/usr/lib/postgresql/15/bin" : string.Empty);
        BaseDirectory = Path.Combine(Root, $"pg-failover-{Guid.NewGuid():N}"[..24]);
    }

    /// <summary>Port of the initial primary.</summary>
    public int PrimaryPort { get; }

    /// <summary>Port of the initial standby.</summary>
    public int StandbyPort { get; }

    /// <summary>Folder holding both data directories and logs.</summary>
    public string BaseDirectory { get; }

    private string PrimaryData => Path.Combine(BaseDirectory, "primary");

    private string StandbyData => Path.Combine(BaseDirectory, "standby");

    /// <summary>Multi-host, primary-only connection string (what workers use to ride out a failover).</summary>
    public string ConnectionString => new NpgsqlConnectionStringBuilder
    {
        Host = $"127.0.0.1:{PrimaryPort},127.0.0.1:{StandbyPort}",
        Username = "postgres",
        Database = "postgres",
        TargetSessionAttributes = "primary",
        Timeout = 3,
        CommandTimeout = 15,
        HostRecheckSeconds = 1,
    }.ConnectionString;

    /// <summary>Connection string of one node only.</summary>
    public string NodeConnectionString(int port) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = port,
        Username = "postgres",
        Database = "postgres",
        Pooling = false,
        Timeout = 3,
    }.ConnectionString;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        await StopStaleClustersAsync();
        foreach (var port in new[] { PrimaryPort, StandbyPort })
        {
            if (PortInUse(port))
            {
                throw new InvalidOperationException($"Port {port} is already in use; set {PortsVariable}=primary,standby to free ports.");
            }
        }

        Directory.CreateDirectory(BaseDirectory);
        if (asRoot)
        {
            await RunAsync("chmod", ["755", Root]);
            await RunAsync("chown", ["postgres:postgres", BaseDirectory]);
        }

        await RunPgAsync("initdb", ["-D", PrimaryData, "-U", "postgres", "--auth=trust", "--data-checksums", "-N"]);
        await File.AppendAllTextAsync(Path.Combine(PrimaryData, "postgresql.conf"), $"""

            port = {PrimaryPort}
            listen_addresses = '127.0.0.1'
            unix_socket_directories = '{BaseDirectory}'
            wal_level = replica
            max_wal_senders = 5
            max_replication_slots = 5
            wal_log_hints = on
            fsync = off
            max_connections = 200

            """);
        await File.AppendAllTextAsync(Path.Combine(PrimaryData, "pg_hba.conf"), "\nhost replication postgres 127.0.0.1/32 trust\n");
        await RunPgAsync("pg_ctl", ["-D", PrimaryData, "-l", Path.Combine(BaseDirectory, "primary.log"), "-w", "start"]);
        await RunPgAsync("pg_basebackup", ["-h", "127.0.0.1", "-p", PrimaryPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", "postgres", "-D", StandbyData, "-R", "-X", "stream", "-C", "-S", "standby1", "--checkpoint=fast"]);
        await File.AppendAllTextAsync(Path.Combine(StandbyData, "postgresql.conf"), $"\nport = {StandbyPort}\ncluster_name = 'standby1'\nhot_standby = on\n");
        await RunPgAsync("pg_ctl", ["-D", StandbyData, "-l", Path.Combine(BaseDirectory, "standby.log"), "-w", "start"]);

        await using (var connection = new NpgsqlConnection(NodeConnectionString(PrimaryPort)))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (standby1)'", connection);
            await command.ExecuteNonQueryAsync();
            command.CommandText = "SELECT pg_reload_conf()";
            await command.ExecuteNonQueryAsync();
        }

        await WaitForSyncStandbyAsync(TimeSpan.FromSeconds(20));
    }

    /// <summary>kill -9 of the primary's postmaster (its backends exit on their own).</summary>
    public void KillPrimary()
    {
        var pid = int.Parse(File.ReadLines(Path.Combine(PrimaryData, "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);
        using var process = Process.GetProcessById(pid);
        process.Kill();
    }

    /// <summary>Promotes the standby (<c>pg_ctl promote -w</c>); it is asynchronous afterwards (no standby left).</summary>
    public Task PromoteStandbyAsync() => RunPgAsync("pg_ctl", ["-D", StandbyData, "-w", "promote"]);

    /// <summary>
    /// Starts the killed old primary again as it is (no rewind, no standby.signal): it comes back as a second
    /// primary, the split-brain situation of LAB.md trap 3.
    /// </summary>
    /// <remarks>
    /// After a kill -9 of the postmaster its orphaned backends may still hold the old shared memory for a moment, and
    /// <c>pg_ctl start</c> then fails ("another server might be running"): retried until it starts, for at most 30 s.
    /// </remarks>
    public async Task RestartOldPrimaryAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                await RunPgAsync("pg_ctl", ["-D", PrimaryData, "-l", Path.Combine(BaseDirectory, "primary-again.log"), "-w", "start"]);
                return;
            }
            catch (InvalidOperationException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(500);
            }
        }
    }

    /// <summary>
    /// Freezes the standby's WAL receiver (SIGSTOP) so synchronous commits on the primary wait; returns its pid for
    /// <see cref="ThawStandbyReceiverAsync"/>.
    /// </summary>
    public async Task<int> FreezeStandbyReceiverAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(NodeConnectionString(StandbyPort));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT pid FROM pg_stat_wal_receiver", connection);
        var pid = (int)(await command.ExecuteScalarAsync(cancellationToken))!;
        await RunAsync("kill", ["-STOP", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        return pid;
    }

    /// <summary>Resumes a receiver frozen by <see cref="FreezeStandbyReceiverAsync"/>.</summary>
    public Task ThawStandbyReceiverAsync(int pid) =>
        RunAsync("kill", ["-CONT", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

    /// <summary>
    /// Freezes the primary's WAL sender for the standby (SIGSTOP): synchronous commits on the primary wait, and nothing
    /// written from now on leaves the primary (a frozen receiver's kernel socket buffer can still take WAL sent after the
    /// freeze and write it once resumed, so "the standby never had it" would depend on timing). Returns its pid (<see cref="KillProcessAsync"/> after <see cref="KillPrimary"/>:
    /// an orphaned frozen sender never exits by itself).
    /// </summary>
    public async Task<int> FreezePrimaryWalSenderAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(NodeConnectionString(PrimaryPort));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT pid FROM pg_stat_replication WHERE application_name = 'standby1'", connection);
        var pid = (int)(await command.ExecuteScalarAsync(cancellationToken))!;
        await RunAsync("kill", ["-STOP", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        return pid;
    }

    /// <summary>Resumes a process frozen by one of the Freeze methods (SIGCONT).</summary>
    public Task ResumeProcessAsync(int pid) =>
        RunAsync("kill", ["-CONT", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

    /// <summary>kill -9 of one server process (e.g. the old primary's frozen WAL sender).</summary>
    public Task KillProcessAsync(int pid) =>
        RunAsync("kill", ["-KILL", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

    /// <summary>Whether the node on <paramref name="port"/> answers and is primary (null when unreachable).</summary>
    public async Task<bool?> IsPrimaryAsync(int port, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = new NpgsqlConnection(NodeConnectionString(port));
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT NOT pg_is_in_recovery()", connection);
            return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
        }
        catch (NpgsqlException)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        foreach (var data in new[] { StandbyData, PrimaryData })
        {
            await StopAsync(data);
        }

        try
        {
            Directory.Delete(BaseDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private async Task WaitForSyncStandbyAsync(TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        await using var connection = new NpgsqlConnection(NodeConnectionString(PrimaryPort));
        await connection.OpenAsync();
        while (true)
        {
            await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'", connection);
            if ((long)(await command.ExecuteScalarAsync())! > 0)
            {
                return;
            }

            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"The standby did not become synchronous within {timeout}; see {BaseDirectory}/*.log");
            }

            await Task.Delay(100);
        }
    }

    private async Task StopAsync(string data)
    {
        if (!File.Exists(Path.Combine(data, "postmaster.pid")))
        {
            return;
        }

        try
        {
            await RunPgAsync("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
        }
        catch (InvalidOperationException)
        {
            // already dead (killed by the drill)
        }
    }

    // A previous run killed mid-way may have left a cluster on our ports: stop any under our root folder.
    private async Task StopStaleClustersAsync()
    {
        if (!Directory.Exists(Root))
        {
            return;
        }

        foreach (var folder in Directory.GetDirectories(Root, "pg-failover-*"))
        {
            foreach (var data in new[] { Path.Combine(folder, "primary"), Path.Combine(folder, "standby") })
            {
                var pidFile = Path.Combine(data, "postmaster.pid");
                if (!File.Exists(pidFile))
                {
                    continue;
                }

                var lines = File.ReadAllLines(pidFile);
                if (lines.Length > 3 && int.TryParse(lines[3], out var port) && (port == PrimaryPort || port == StandbyPort))
                {
                    await StopAsync(data);
                }
            }
        }
    }

    private static bool PortInUse(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private async Task RunPgAsync(string tool, IReadOnlyList<string> arguments)
    {
        var path = bin.Length > 0 ? Path.Combine(bin, tool) : tool;
        try
        {
            await (asRoot ? RunAsync("runuser", ["-u", "postgres", "--", path, .. arguments]) : RunAsync(path, arguments));
        }
        catch (InvalidOperationException failed) when (LogOf(arguments) is { } log && File.Exists(log))
        {
            // pg_ctl only says "could not start server": the server's own log says why (the folder is deleted at dispose).
            var lines = File.ReadAllLines(log);
            throw new InvalidOperationException($"{failed.Message}\n--- {log} (last lines) ---\n{string.Join('\n', lines.TakeLast(30))}", failed);
        }
    }

    // The server log a pg_ctl command writes to (its -l argument), if any.
    private static string? LogOf(IReadOnlyList<string> arguments)
    {
        for (var i = 0; i < arguments.Count - 1; i++)
        {
            if (arguments[i] == "-l")
            {
                return arguments[i + 1];
            }
        }

        return null;
    }

    private static async Task RunAsync(string file, IReadOnlyList<string> arguments)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/tmp",
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {file}.");
        // pg_ctl start leaves the postmaster holding our pipes: read to end would hang, so wait for exit only.
        var stderr = process.StandardError.ReadLineAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        if (process.ExitCode != 0)
        {
            var error = stderr.IsCompleted ? await stderr : string.Empty;
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {error}");
        }
    }
}
