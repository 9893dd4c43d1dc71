using System.Diagnostics;
using System.Globalization;
using Workers.Testing;

namespace Workers.FaultTests;

/// <summary>
/// The fault suite's own RabbitMQ node (<c>fault1</c>, AMQP 5691, dist 25691, no management plugin), shared by every
/// scenario through the collection: each scenario gets its own vhost on it. Kills and restarts only ever hit this node,
/// never the shared broker. <c>WORKERS_FAULT_NODE=name:amqp:dist</c> (e.g. <c>fault2:5692:25692</c>) gives it another
/// name and ports, so that two fault runs can share a machine. <c>WORKERS_PRIVATE_BROKER=4.0</c> runs it on RabbitMQ 4.0
/// from the Debian 13 root (<see cref="RabbitMqRuntime"/>; node <c>fault4</c>, AMQP 5695, dist 25695 by default) with
/// quorum endpoint queues, as users deploy 4.x; the scenarios that do not depend on the broker version are not run
/// there (<see cref="FaultTraits"/>).
/// </summary>
public sealed class FaultNode : RabbitMqPrivateNode, IFaultBroker
{
    /// <summary>Environment variable overriding the node's name and ports: <c>name:amqp:dist</c>.</summary>
    public const string NodeVariable = "WORKERS_FAULT_NODE";

    /// <summary>Node name, AMQP and distribution port when <see cref="NodeVariable"/> is not set.</summary>
    public const string DefaultNode = "fault1:5691:25691";

    /// <summary>The node on RabbitMQ 4.0 when <see cref="NodeVariable"/> is not set (its own name: both may exist on one machine).</summary>
    public const string DefaultNode4 = "fault4:5695:25695";

    public FaultNode()
        : this(RabbitMqRuntime.FromEnvironment())
    {
    }

    private FaultNode(RabbitMqRuntime runtime)
        : this(Parse(Environment.GetEnvironmentVariable(NodeVariable) is { Length: > 0 } value ? value : runtime.Version == "4.0" ? DefaultNode4 : DefaultNode), runtime)
    {
    }

    private FaultNode((string Name, int Amqp, int Dist) node, RabbitMqRuntime runtime)
        : base(node.Name, node.Amqp, node.Dist, runtime)
    {
        // On 4.x the endpoints are quorum queues (what users deploy, and where the broker's delivery limit applies);
        // the observer's audit queue too, so that the test's own record has the same durability.
        Quorum = runtime.Version == "4.0";
        WorkerSettings = Quorum ? new Dictionary<string, string> { ["Workers__Defaults__QueueType"] = "Quorum" } : new Dictionary<string, string>();
    }

    /// <summary>Whether the workers' endpoint queues are quorum queues (on RabbitMQ 4.0).</summary>
    public bool Quorum { get; }

    /// <inheritdoc cref="IFaultBroker.WorkerSettings" />
    public IReadOnlyDictionary<string, string> WorkerSettings { get; }

    IDictionary<string, object?>? IFaultBroker.AuditQueueArguments => Quorum ? new Dictionary<string, object?> { ["x-queue-type"] = "quorum" } : null;

    IDictionary<string, object?>? IFaultBroker.DeadLetterQueueArguments => Quorum ? FaultQueues.QuorumDeadLetterArguments() : null;

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

    /// <summary>The vhost's queues (<c>rabbitmqctl list_queues</c>): type, messages, ready, unacknowledged, consumers.</summary>
    public async Task<string> DescribeQueuesAsync(string vhost, CancellationToken cancellationToken)
    {
        var result = await RunCtlAsync(["list_queues", "-p", vhost, "--no-table-headers", "-q", "name", "type", "messages", "messages_ready", "messages_unacknowledged", "consumers"], throwOnError: false, cancellationToken);
        return result.ExitCode == 0 ? result.Output : $"list_queues failed ({result.ExitCode}): {result.Output}";
    }

    /// <summary>Kills the node's Erlang VM with SIGKILL (no clean shutdown) and waits until it is gone.</summary>
    public async Task KillAsync(CancellationToken cancellationToken = default)
    {
        // The VM's pid as the node prints it ("12345"); the Debian 13 root shares this machine's pid namespace.
        var output = await CtlAsync(["eval", "os:getpid()."], cancellationToken);
        var pid = int.Parse(output.Trim().Trim('"'), CultureInfo.InvariantCulture);
        using var process = Process.GetProcessById(pid);
        process.Kill();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
    }

    /// <summary>Runs <c>rabbitmqctl -n node ...</c> in the node's runtime; its standard output, or throws with the output on failure.</summary>
    public async Task<string> CtlAsync(string[] arguments, CancellationToken cancellationToken) =>
        (await RunCtlAsync(arguments, throwOnError: true, cancellationToken)).Output;
}
