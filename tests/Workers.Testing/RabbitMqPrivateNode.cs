using System.Diagnostics;
using System.Net.Sockets;
using Xunit;

namespace Workers.Testing;

/// <summary>
/// A RabbitMQ node of the test's own (own name, ports and data directory), which the test may stop and start at will;
/// the shared broker is never touched. Needs <c>rabbitmq-server</c> installed (Debian package); as root, the data
/// directory is owned by the <c>rabbitmq</c> user. Derive a parameterless fixture with your private ports. The node runs
/// RabbitMQ 3.10 from this machine's package, or 4.0 from the Debian 13 root (<see cref="RabbitMqRuntime"/>).
/// </summary>
public class RabbitMqPrivateNode : IAsyncLifetime
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(90);
    private readonly string directory;
    private readonly RabbitMqRuntime runtime;

    /// <summary>Creates the description of a node; nothing runs until <see cref="InitializeAsync"/>.</summary>
    /// <param name="name">Node name prefix (the short host name is appended).</param>
    /// <param name="amqpPort">AMQP listener port (loopback).</param>
    /// <param name="distPort">Erlang distribution port.</param>
    public RabbitMqPrivateNode(string name, int amqpPort, int distPort)
        : this(name, amqpPort, distPort, RabbitMqRuntime.Host)
    {
    }

    /// <summary>Creates the description of a node run by <paramref name="runtime"/>; nothing runs until <see cref="InitializeAsync"/>.</summary>
    /// <param name="name">Node name prefix (the short host name is appended).</param>
    /// <param name="amqpPort">AMQP listener port (loopback).</param>
    /// <param name="distPort">Erlang distribution port.</param>
    /// <param name="runtime">Where the node runs from (its RabbitMQ version).</param>
    public RabbitMqPrivateNode(string name, int amqpPort, int distPort, RabbitMqRuntime runtime)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(runtime);
        NodeName = $"{name}@{ShortHostName()}";
        AmqpPort = amqpPort;
        DistPort = distPort;
        this.runtime = runtime;
        directory = runtime.NewNodeDirectory(name);
    }

    /// <summary>The RabbitMQ version the node runs (<c>3.10</c> or <c>4.0</c>).</summary>
    public string BrokerVersion => runtime.Version;

    /// <summary>The node's name (<c>name@shorthost</c>).</summary>
    public string NodeName { get; }

    /// <summary>The AMQP port.</summary>
    public int AmqpPort { get; }

    /// <summary>The Erlang distribution port.</summary>
    public int DistPort { get; }

    /// <summary>AMQP URI of the node's default vhost (guest over loopback).</summary>
    public Uri Uri => new($"amqp://guest:guest@127.0.0.1:{AmqpPort}/");

    /// <summary>Whether the node is running (as far as this fixture started it).</summary>
    public bool IsRunning { get; private set; }

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        runtime.EnsureInstalled();

        // A node of the same name left over by a killed run would hold the ports: stop it (it is ours by name).
        await RunCtlAsync(["stop"], throwOnError: false, CancellationToken.None).ConfigureAwait(false);
        Directory.CreateDirectory(Path.Combine(directory, "mnesia"));
        Directory.CreateDirectory(Path.Combine(directory, "log"));
        await File.WriteAllTextAsync(Path.Combine(directory, "rabbitmq.conf"), $"listeners.tcp.1 = 127.0.0.1:{AmqpPort}\nloopback_users.guest = true\n").ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(directory, "enabled_plugins"), "[].\n").ConfigureAwait(false);
        if (Environment.UserName == "root")
        {
            // The rabbitmq user of the runtime (the Debian 13 root has its own ids).
            await RunAsync("chown", ["-R", "rabbitmq:rabbitmq", runtime.ServerPath(directory)], throwOnError: true, CancellationToken.None).ConfigureAwait(false);
        }

        await StartAsync().ConfigureAwait(false);
    }

    /// <summary>Starts the node and waits until it accepts AMQP connections.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (runtime.HasDetached)
        {
            await RunAsync("rabbitmq-server", ["-detached"], throwOnError: true, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await StartInBackgroundAsync(cancellationToken).ConfigureAwait(false);
        }

        // The server returns (or runs in the background) at once; await_startup needs the node registered with epmd, so ping until it is.
        var deadline = Stopwatch.StartNew();
        while ((await RunCtlAsync(["ping", "-q"], throwOnError: false, cancellationToken).ConfigureAwait(false)).ExitCode != 0)
        {
            if (deadline.Elapsed > CommandTimeout)
            {
                throw new TimeoutException($"Node {NodeName} did not come up within {CommandTimeout} (logs in {directory}/log).");
            }

            await Task.Delay(250, cancellationToken).ConfigureAwait(false);
        }

        await RunCtlAsync(["await_startup", "--timeout", "90"], throwOnError: true, cancellationToken).ConfigureAwait(false);

        // The node runs the version the runtime stands for (a 3.10 node answering where 4.0 was asked for proves nothing).
        var version = (await RunCtlAsync(["eval", "rabbit_misc:version()."], throwOnError: true, cancellationToken).ConfigureAwait(false)).Output.Trim().Trim('"');
        if (!version.StartsWith(runtime.Version + ".", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Node {NodeName} runs RabbitMQ {version}, not {runtime.Version}.");
        }

        await WaitForPortAsync(cancellationToken).ConfigureAwait(false);
        IsRunning = true;
    }

    /// <summary>Stops the node (cleanly; persisted messages stay on disk).</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await RunCtlAsync(["stop"], throwOnError: true, cancellationToken).ConfigureAwait(false);
        IsRunning = false;
    }

    /// <summary>Closes every client connection (clients see 320 CONNECTION_FORCED), as a crashed network or worker would leave them.</summary>
    public async Task CloseAllConnectionsAsync(string reason, CancellationToken cancellationToken = default) =>
        await RunCtlAsync(["close_all_connections", reason], throwOnError: true, cancellationToken).ConfigureAwait(false);

    /// <summary>Adds a user with full permissions on the default vhost; returns the node's AMQP URI for that user.</summary>
    public async Task<Uri> AddUserAsync(string user, string password, CancellationToken cancellationToken = default)
    {
        await RunCtlAsync(["add_user", user, password], throwOnError: true, cancellationToken).ConfigureAwait(false);
        await RunCtlAsync(["set_permissions", "-p", "/", user, ".*", ".*", ".*"], throwOnError: true, cancellationToken).ConfigureAwait(false);
        return new Uri($"amqp://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password)}@127.0.0.1:{AmqpPort}/");
    }

    /// <summary>
    /// Deletes a user and closes every connection (deleting a user alone leaves its open connections running):
    /// the user's clients cannot reconnect, as if the worker were gone for good; other clients reconnect.
    /// </summary>
    public async Task DeleteUserAsync(string user, CancellationToken cancellationToken = default)
    {
        await RunCtlAsync(["delete_user", user], throwOnError: true, cancellationToken).ConfigureAwait(false);
        await CloseAllConnectionsAsync($"user {user} deleted", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await RunCtlAsync(["stop"], throwOnError: false, CancellationToken.None).ConfigureAwait(false);
        IsRunning = false;
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        GC.SuppressFinalize(this);
    }

    private async Task WaitForPortAsync(CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", AmqpPort, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (SocketException) when (deadline.Elapsed < CommandTimeout)
            {
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    // 4.x has no -detached: a shell starts the server in a session of its own, output to the node's log folder, and
    // returns; StartAsync then waits for the node as it does after -detached.
    private async Task StartInBackgroundAsync(CancellationToken cancellationToken)
    {
        var server = runtime.Command("rabbitmq-server", [], NodeEnvironment());
        var shell = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var argument in (string[])["-c", "log=$1; shift; setsid \"$@\" > \"$log\" 2>&1 < /dev/null &", "sh", Path.Combine(directory, "log", "console.out"), server.FileName])
        {
            shell.ArgumentList.Add(argument);
        }

        foreach (var argument in server.ArgumentList)
        {
            shell.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in server.Environment)
        {
            shell.Environment[key] = value;
        }

        using var process = Process.Start(shell) ?? throw new InvalidOperationException("Could not start /bin/sh.");
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"Starting node {NodeName} in the background failed ({process.ExitCode}); logs in {directory}/log.");
        }
    }

    // The node's variables, with paths as its server sees them.
    private Dictionary<string, string> NodeEnvironment()
    {
        var data = runtime.ServerPath(directory);
        return new Dictionary<string, string>
        {
            ["RABBITMQ_NODENAME"] = NodeName,
            ["RABBITMQ_DIST_PORT"] = DistPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(data, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(data, "log"),
            ["RABBITMQ_CONFIG_FILE"] = Path.Combine(data, "rabbitmq.conf"),
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(data, "enabled_plugins"),
            ["RABBITMQ_PID_FILE"] = Path.Combine(data, "pid"),
        };
    }

    /// <summary>Runs <c>rabbitmqctl -n node ...</c> in the node's runtime; the exit code and standard output.</summary>
    protected Task<(int ExitCode, string Output)> RunCtlAsync(string[] arguments, bool throwOnError, CancellationToken cancellationToken) =>
        RunAsync("rabbitmqctl", ["-n", NodeName, .. arguments], throwOnError, cancellationToken);

    private async Task<(int ExitCode, string Output)> RunAsync(string file, string[] arguments, bool throwOnError, CancellationToken cancellationToken)
    {
        var info = runtime.Command(file, arguments, NodeEnvironment());
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {file}.");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CommandTimeout);
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var output = await stdout.ConfigureAwait(false);
        var errors = await stderr.ConfigureAwait(false);
        if (throwOnError && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"'{file} {string.Join(' ', arguments)}' for node {NodeName} failed ({process.ExitCode}): {output}{errors} (logs in {directory}/log)");
        }

        return (process.ExitCode, output);
    }

    private static string ShortHostName()
    {
        var host = System.Net.Dns.GetHostName();
        var dot = host.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? host : host[..dot];
    }
}
