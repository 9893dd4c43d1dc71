using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Serialization;
using Xunit;

namespace Workers.Testing;

/// <summary>
/// A private 3-node RabbitMQ cluster on this machine (nodes <c>r1..r3@host</c>, AMQP 5701–5703, management
/// 15701–15703), started with <c>scripts/services.sh cluster-up</c> and stopped with <c>cluster-down</c> when the
/// fixture is disposed. Tests may stop and start single nodes. It never touches the shared single node.
/// <c>WORKERS_CLUSTER_PREFIX</c> and <c>WORKERS_CLUSTER_BASE_PORT</c> (read by the script too) give it other node names
/// and ports, so that two runs on one machine do not share (and break) one cluster.
/// Use as a collection fixture so that one cluster serves every class that needs it.
/// </summary>
public sealed class LocalRabbitMqCluster : IAsyncLifetime
{
    /// <summary>Number of nodes.</summary>
    public const int NodeCount = 3;

    /// <summary>Environment variable with the node name prefix (default <c>r</c>: nodes <c>r1..r3</c>).</summary>
    public const string PrefixVariable = "WORKERS_CLUSTER_PREFIX";

    /// <summary>Environment variable with the AMQP port of node 1 (default 5701; management +10000, distribution +20000).</summary>
    public const string BasePortVariable = "WORKERS_CLUSTER_BASE_PORT";

    /// <summary>AMQP port of node 1 (node N listens on <c>FirstAmqpPort + N - 1</c>).</summary>
    public static int FirstAmqpPort { get; } =
        int.TryParse(Environment.GetEnvironmentVariable(BasePortVariable), NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 45536 ? port : 5701;

    /// <summary>Management port of node 1 (node N listens on <c>FirstManagementPort + N - 1</c>).</summary>
    public static int FirstManagementPort => FirstAmqpPort + 10000;

    /// <summary>Node name prefix (<c>r</c> unless <see cref="PrefixVariable"/> says otherwise).</summary>
    public static string NodePrefix { get; } = Environment.GetEnvironmentVariable(PrefixVariable) is { Length: > 0 } prefix ? prefix : "r";

    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(4);
    private readonly List<string> vhosts = [];
    private readonly Dictionary<int, Dictionary<string, string>> killed = [];

    /// <summary>The repository's root folder (the one holding Workers.sln).</summary>
    public string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The machine's short host name, the host part of the node names.</summary>
    public string ShortHost { get; private set; } = string.Empty;

    /// <summary>The node's Erlang name, e.g. <c>r2@host</c>.</summary>
    public string NodeName(int node) => $"{NodePrefix}{CheckNode(node)}@{ShortHost}";

    /// <summary>The node's AMQP port.</summary>
    public static int AmqpPort(int node) => FirstAmqpPort + CheckNode(node) - 1;

    /// <summary><c>host:port</c> of the node's AMQP listener, as <c>Workers:RabbitMq:ClusterNodes</c> expects it.</summary>
    public static string Endpoint(int node) => $"127.0.0.1:{AmqpPort(node).ToString(CultureInfo.InvariantCulture)}";

    /// <summary>AMQP URI of a vhost on a node, with the given credentials (guest by default: loopback only).</summary>
    public static Uri AmqpUri(int node, string vhost, string user = "guest", string password = "guest") =>
        new($"amqp://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password)}@127.0.0.1:{AmqpPort(node).ToString(CultureInfo.InvariantCulture)}/{Uri.EscapeDataString(vhost)}");

    /// <summary>A management API client of a node (guest credentials); dispose it.</summary>
    public static HttpClient Management(int node) =>
        RabbitMqServer.CreateManagementClient(new Uri($"http://guest:guest@127.0.0.1:{(FirstManagementPort + CheckNode(node) - 1).ToString(CultureInfo.InvariantCulture)}/"));

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        ShortHost = (await RunAsync("hostname", ["-s"], TimeSpan.FromSeconds(10), CancellationToken.None)).Trim();
        await RunAsync("bash", [Path.Combine(RepositoryRoot, "scripts", "services.sh"), "cluster-up"], ScriptTimeout, CancellationToken.None);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        using (var management = Management(1))
        {
            foreach (var vhost in vhosts)
            {
                try
                {
                    using var _ = await management.DeleteAsync($"api/vhosts/{Uri.EscapeDataString(vhost)}");
                }
                catch (HttpRequestException)
                {
                    // The cluster goes down next, with everything in it.
                }
            }
        }

        // Stop the nodes so that machines running the tests do not accumulate them.
        await RunAsync("bash", [Path.Combine(RepositoryRoot, "scripts", "services.sh"), "cluster-down"], ScriptTimeout, CancellationToken.None);
    }

    /// <summary>Creates a vhost of its own on the cluster (guest gets every permission on it); deleted with the fixture.</summary>
    public async Task<string> CreateVhostAsync(CancellationToken cancellationToken = default)
    {
        var name = $"workers-cluster-{Guid.NewGuid():N}"[..31];
        using var management = Management(1);
        (await management.PutAsync($"api/vhosts/{Uri.EscapeDataString(name)}", null, cancellationToken)).EnsureSuccessStatusCode();
        (await management.PutAsJsonAsync($"api/permissions/{Uri.EscapeDataString(name)}/guest", new { configure = ".*", write = ".*", read = ".*" }, cancellationToken)).EnsureSuccessStatusCode();
        vhosts.Add(name);
        return name;
    }

    /// <summary>Registers a vhost created by other means (a script) for deletion with the fixture.</summary>
    public void TrackVhost(string name) => vhosts.Add(name);

    /// <summary>Stops the node's RabbitMQ application (its clients are disconnected; the Erlang VM keeps running).</summary>
    public Task StopNodeAsync(int node, CancellationToken cancellationToken = default) =>
        RunAsync("rabbitmqctl", ["-q", "-n", NodeName(node), "stop_app"], TimeSpan.FromSeconds(60), cancellationToken);

    /// <summary>Starts the node's application again and waits until it serves.</summary>
    public async Task StartNodeAsync(int node, CancellationToken cancellationToken = default)
    {
        await RunAsync("rabbitmqctl", ["-q", "-n", NodeName(node), "start_app"], TimeSpan.FromSeconds(90), cancellationToken);
        await RunAsync("rabbitmqctl", ["-q", "-n", NodeName(node), "await_startup", "--timeout", "60"], TimeSpan.FromSeconds(70), cancellationToken);
    }

    /// <summary>
    /// Kills the node's Erlang VM with SIGKILL (no clean shutdown) and waits until the process is gone; remembers the
    /// environment it ran with (its RabbitMQ settings) for <see cref="RestartKilledNodeAsync"/>.
    /// </summary>
    public async Task KillNodeAsync(int node, CancellationToken cancellationToken = default)
    {
        var output = await RunAsync("rabbitmqctl", ["-q", "-n", NodeName(node), "eval", "os:getpid()."], TimeSpan.FromSeconds(30), cancellationToken);
        var pid = int.Parse(output.Trim().Trim('"'), CultureInfo.InvariantCulture);
        var environment = (await File.ReadAllTextAsync($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/environ", cancellationToken))
            .Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(entry => entry.Split('=', 2))
            .Where(pair => pair.Length == 2 && pair[0].StartsWith("RABBITMQ_", StringComparison.Ordinal))
            .ToDictionary(pair => pair[0], pair => pair[1], StringComparer.Ordinal);
        if (!environment.ContainsKey("RABBITMQ_MNESIA_BASE"))
        {
            throw new InvalidOperationException($"Node {NodeName(node)} (pid {pid}) has no RABBITMQ_MNESIA_BASE in its environment: it cannot be restarted as it ran.");
        }

        killed[node] = environment;
        using var process = Process.GetProcessById(pid);
        process.Kill();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
    }

    /// <summary>
    /// Starts a node killed by <see cref="KillNodeAsync"/> again, with the settings it ran with, and waits until it has
    /// started. The other nodes are not touched (unlike <c>cluster-up</c>, which resets a node it does not find in the
    /// cluster), so the node rejoins as the member it was.
    /// </summary>
    public async Task RestartKilledNodeAsync(int node, CancellationToken cancellationToken = default)
    {
        if (!killed.Remove(node, out var environment))
        {
            throw new InvalidOperationException($"Node {NodeName(node)} was not killed by this fixture.");
        }

        await RunAsync("rabbitmq-server", ["-detached"], TimeSpan.FromSeconds(60), cancellationToken, environment);

        // -detached returns at once; await_startup needs the node registered with epmd, so ping until it is.
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await RunAsync("rabbitmqctl", ["-q", "-n", NodeName(node), "ping"], TimeSpan.FromSeconds(30), cancellationToken);
                break;
            }
            catch (InvalidOperationException) when (deadline.Elapsed < ScriptTimeout)
            {
                await Task.Delay(250, cancellationToken);
            }
        }

        await RunAsync("rabbitmqctl", ["-q", "-n", NodeName(node), "await_startup", "--timeout", "120"], TimeSpan.FromSeconds(130), cancellationToken);
    }

    /// <summary>Names of the running nodes, as node 1..3 see it (asks the first node that answers).</summary>
    public async Task<IReadOnlyList<string>> RunningNodesAsync(CancellationToken cancellationToken = default)
    {
        for (var node = 1; node <= NodeCount; node++)
        {
            using var management = Management(node);
            try
            {
                var nodes = await management.GetFromJsonAsync<List<NodeInfo>>("api/nodes", cancellationToken) ?? [];
                return [.. nodes.Where(n => n.Running).Select(n => n.Name)];
            }
            catch (HttpRequestException)
            {
                // That node's management listener is down: ask the next one.
            }
        }

        return [];
    }

    /// <summary>Runs a program to completion (bounded) and returns its standard output; throws with its output when it fails.</summary>
    public static async Task<string> RunAsync(string program, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? environment = null, string? input = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PATH"] = $"{Environment.GetEnvironmentVariable("PATH")}:/usr/sbin:/usr/lib/rabbitmq/bin";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish within {timeout}.");
        }

        var output = await stdout;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{output}\n{await stderr}");
        }

        return output;
    }

    /// <summary>Walks up from the test's output folder to the folder holding Workers.sln.</summary>
    public static string FindRepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Workers.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"No Workers.sln above {AppContext.BaseDirectory}.");
    }

    private static int CheckNode(int node) =>
        node is >= 1 and <= NodeCount ? node : throw new ArgumentOutOfRangeException(nameof(node), node, "Nodes are numbered 1 to 3.");

    private sealed record NodeInfo([property: JsonPropertyName("name")] string Name, [property: JsonPropertyName("running")] bool Running);
}
