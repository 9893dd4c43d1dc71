using System.Diagnostics;
using System.Net.Sockets;
using Xunit;

namespace Workers.Testing;

/// <summary>
/// A RabbitMQ node of the test's own (own name, ports and data directory), which the test may stop and start at will;
/// the shared broker is never touched. Needs <c>rabbitmq-server</c> installed (Debian package); as root, the data
/// directory is owned by the <c>rabbitmq</c> user. Derive a parameterless fixture with your private ports.
/// </summary>
public class RabbitMqPrivateNode : IAsyncLifetime
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(90);
    private readonly string directory;

    /// <summary>Creates the description of a node; nothing runs until <see cref="InitializeAsync"/>.</summary>
    /// <param name="name">Node name prefix (the short host name is appended).</param>
    /// <param name="amqpPort">AMQP listener port (loopback).</param>
    /// <param name="distPort">Erlang distribution port.</param>
    public RabbitMqPrivateNode(string name, int amqpPort, int distPort)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        NodeName = $"{name}@{ShortHostName()}";
        AmqpPort = amqpPort;
        DistPort = distPort;
        directory = Path.Combine("/var/tmp/workers-tests", $"{name}-{Guid.NewGuid():N}"[..(name.Length + 13)]);
    }

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
        if (!File.Exists("/usr/sbin/rabbitmq-server") && !File.Exists("/usr/lib/rabbitmq/bin/rabbitmq-server"))
        {
            throw new InvalidOperationException("rabbitmq-server is not installed (apt-get install -y rabbitmq-server); the private-node tests need it.");
        }

        // A node of the same name left over by a killed run would hold the ports: stop it (it is ours by name).
        await RunCtlAsync(["stop"], throwOnError: false, CancellationToken.None).ConfigureAwait(false);
        Directory.CreateDirectory(Path.Combine(directory, "mnesia"));
        Directory.CreateDirectory(Path.Combine(directory, "log"));
        await File.WriteAllTextAsync(Path.Combine(directory, "rabbitmq.conf"), $"listeners.tcp.1 = 127.0.0.1:{AmqpPort}\nloopback_users.guest = true\n").ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(directory, "enabled_plugins"), "[].\n").ConfigureAwait(false);
        if (Environment.UserName == "root")
        {
            await RunAsync("chown", ["-R", "rabbitmq:rabbitmq", directory], throwOnError: true, CancellationToken.None).ConfigureAwait(false);
        }

        await StartAsync().ConfigureAwait(false);
    }

    /// <summary>Starts the node and waits until it accepts AMQP connections.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await RunAsync("rabbitmq-server", ["-detached"], throwOnError: true, cancellationToken).ConfigureAwait(false);

        // -detached returns at once; await_startup needs the node registered with epmd, so ping until it is.
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

    private Task<(int ExitCode, string Output)> RunCtlAsync(string[] arguments, bool throwOnError, CancellationToken cancellationToken) =>
        RunAsync("rabbitmqctl", ["-n", NodeName, .. arguments], throwOnError, cancellationToken);

    private async Task<(int ExitCode, string Output)> RunAsync(string file, string[] arguments, bool throwOnError, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["RABBITMQ_NODENAME"] = NodeName;
        info.Environment["RABBITMQ_DIST_PORT"] = DistPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["RABBITMQ_MNESIA_BASE"] = Path.Combine(directory, "mnesia");
        info.Environment["RABBITMQ_LOG_BASE"] = Path.Combine(directory, "log");
        info.Environment["RABBITMQ_CONFIG_FILE"] = Path.Combine(directory, "rabbitmq.conf");
        info.Environment["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(directory, "enabled_plugins");
        info.Environment["RABBITMQ_PID_FILE"] = Path.Combine(directory, "pid");

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

        var output = await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false);
        if (throwOnError && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"'{file} {string.Join(' ', arguments)}' for node {NodeName} failed ({process.ExitCode}): {output} (logs in {directory}/log)");
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
