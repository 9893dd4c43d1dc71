using System.Diagnostics;
using System.Globalization;
using Workers.Testing;

namespace Workers.FaultTests;

/// <summary>
/// The fault suite's own RabbitMQ node (<c>fault1</c>, AMQP 5691, dist 25691, no management plugin), shared by every
/// scenario through the collection: each scenario gets its own vhost on it. Kills and restarts only ever hit this node,
/// never the shared broker. <c>WORKERS_FAULT_NODE=name:amqp:dist</c> (e.g. <c>fault2:5692:25692</c>) gives it another
/// name and ports, so that two fault runs can share a machine.
/// </summary>
public sealed class FaultNode : RabbitMqPrivateNode, IFaultBroker
{
    /// <summary>Environment variable overriding the node's name and ports: <c>name:amqp:dist</c>.</summary>
    public const string NodeVariable = "WORKERS_FAULT_NODE";

    /// <summary>Node name, AMQP and distribution port when <see cref="NodeVariable"/> is not set.</summary>
    public const string DefaultNode = "fault1:5691:25691";

    public FaultNode()
        : this(Parse(Environment.GetEnvironmentVariable(NodeVariable) is { Length: > 0 } value ? value : DefaultNode))
    {
    }

    private FaultNode((string Name, int Amqp, int Dist) node)
        : base(node.Name, node.Amqp, node.Dist)
    {
    }

    IReadOnlyDictionary<string, string> IFaultBroker.WorkerSettings { get; } = new Dictionary<string, string>();

    IDictionary<string, object?>? IFaultBroker.AuditQueueArguments => null;

    /// <summary>Parses <c>name:amqp:dist</c>.</summary>
    public static (string Name, int Amqp, int Dist) Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var parts = value.Split(':', StringSplitOptions.TrimEntries);
        return parts.Length == 3 && parts[0].Length > 0
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var amqp) && amqp is > 0 and < 65536
            && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var dist) && dist is > 0 and < 65536
            ? (parts[0], amqp, dist)
            : throw new InvalidOperationException($"{NodeVariable} must be name:amqp-port:dist-port, e.g. fault2:5692:25692 (was '{value}').");
    }

    /// <summary>Creates a vhost with full permissions for guest; returns its AMQP URI on the node (or on <paramref name="port"/>).</summary>
    public async Task<Uri> AddVhostAsync(string name, int? port = null, CancellationToken cancellationToken = default)
    {
        await CtlAsync(["add_vhost", name], cancellationToken);
        await CtlAsync(["set_permissions", "-p", name, "guest", ".*", ".*", ".*"], cancellationToken);
        return VhostUri(name, port);
    }

    Task IFaultBroker.CreateVhostAsync(string vhost, CancellationToken cancellationToken) => AddVhostAsync(vhost, cancellationToken: cancellationToken);

    Uri IFaultBroker.ClientUri(string vhost) => VhostUri(vhost);

    Uri IFaultBroker.WorkerUri(string vhost) => VhostUri(vhost);

    /// <summary>AMQP URI of a vhost, directly or through a proxy port.</summary>
    public Uri VhostUri(string name, int? port = null) =>
        new($"amqp://guest:guest@127.0.0.1:{(port ?? AmqpPort).ToString(CultureInfo.InvariantCulture)}/{Uri.EscapeDataString(name)}");

    /// <summary>Starts the node again when it does not answer a ping (e.g. a previous scenario left it down).</summary>
    public async Task EnsureRunningAsync(CancellationToken cancellationToken)
    {
        try
        {
            await CtlAsync(["ping"], cancellationToken);
        }
        catch (InvalidOperationException)
        {
            await StartAsync(cancellationToken);
        }
    }

    /// <summary>Deletes a vhost (best effort).</summary>
    public async Task DeleteVhostAsync(string name)
    {
        if (!IsRunning)
        {
            return;
        }

        try
        {
            await CtlAsync(["delete_vhost", name], CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
        }
    }

    /// <summary>Kills the node's Erlang VM with SIGKILL (no clean shutdown) and waits until it is gone.</summary>
    public async Task KillAsync(CancellationToken cancellationToken = default)
    {
        var output = await CtlAsync(["eval", "os:getpid()."], cancellationToken);
        await KillOsProcessAsync(output, cancellationToken);
    }

    /// <summary>Kills the OS process whose pid <paramref name="pidOutput"/> holds (as <c>os:getpid().</c> prints it) with SIGKILL and waits until it is gone.</summary>
    internal static async Task KillOsProcessAsync(string pidOutput, CancellationToken cancellationToken)
    {
        var pid = int.Parse(pidOutput.Trim().Trim('"'), CultureInfo.InvariantCulture);
        using var process = Process.GetProcessById(pid);
        process.Kill();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
    }

    /// <summary>Runs <c>rabbitmqctl -n node ...</c>; throws with the output on failure.</summary>
    public Task<string> CtlAsync(string[] arguments, CancellationToken cancellationToken) => CtlAsync(NodeName, arguments, cancellationToken);

    /// <summary>Runs <c>rabbitmqctl -n <paramref name="node"/> ...</c>; throws with the output on failure.</summary>
    internal static async Task<string> CtlAsync(string node, string[] arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("rabbitmqctl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-n");
        info.ArgumentList.Add(node);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("rabbitmqctl did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var output = await stdout + await stderr;
        return process.ExitCode == 0 ? await stdout : throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', arguments)} failed ({process.ExitCode}): {output}");
    }
}
