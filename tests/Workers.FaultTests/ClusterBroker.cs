using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Serialization;
using Workers.Testing;

namespace Workers.FaultTests;

/// <summary>
/// The local 3-node cluster (<see cref="LocalRabbitMqCluster"/>) as a scenario's broker, configured as compose runs the
/// workers: URI on node 1, nodes 2 and 3 as <c>ClusterNodes</c>, quorum queues. The test's own clients (producer,
/// observer) use node <see cref="ClientNode"/> and quorum queues, so that they outlive the loss of any other node.
/// </summary>
internal sealed class ClusterBroker(LocalRabbitMqCluster cluster) : IFaultBroker
{
    /// <summary>The node the producer and the observer connect to (never the one a scenario kills).</summary>
    public const int ClientNode = 3;

    /// <summary>The node in the workers' URI (the first they try).</summary>
    public const int WorkerNode = 1;

    /// <summary>Bound of one management API request.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    public LocalRabbitMqCluster Cluster => cluster;

    /// <summary>A node's short label for notes, e.g. <c>r1</c>.</summary>
    public static string Label(int node) => LocalRabbitMqCluster.NodePrefix + node.ToString(CultureInfo.InvariantCulture);

    public IReadOnlyDictionary<string, string> WorkerSettings { get; } = new Dictionary<string, string>
    {
        ["Workers__RabbitMq__ClusterNodes__0"] = LocalRabbitMqCluster.Endpoint(2),
        ["Workers__RabbitMq__ClusterNodes__1"] = LocalRabbitMqCluster.Endpoint(3),
        ["Workers__Defaults__QueueType"] = "Quorum",
    };

    public IDictionary<string, object?>? AuditQueueArguments { get; } = new Dictionary<string, object?> { ["x-queue-type"] = "quorum" };

    public IDictionary<string, object?>? DeadLetterQueueArguments { get; } = FaultQueues.QuorumDeadLetterArguments();

    /// <summary>The fixture started the cluster: waits (bounded) until the management API reports every node running.</summary>
    public Task EnsureRunningAsync(CancellationToken cancellationToken) =>
        FaultScenario.WaitUntilAsync(
            async () => (await cluster.RunningNodesAsync(cancellationToken)).Count == LocalRabbitMqCluster.NodeCount,
            FaultScenario.Bound,
            "every cluster node running");

    public async Task CreateVhostAsync(string vhost, CancellationToken cancellationToken)
    {
        using var management = LocalRabbitMqCluster.Management(ClientNode);
        (await management.PutAsync($"api/vhosts/{Uri.EscapeDataString(vhost)}", null, cancellationToken)).EnsureSuccessStatusCode();
        (await management.PutAsJsonAsync($"api/permissions/{Uri.EscapeDataString(vhost)}/guest", new { configure = ".*", write = ".*", read = ".*" }, cancellationToken)).EnsureSuccessStatusCode();
        cluster.TrackVhost(vhost);
    }

    public async Task DeleteVhostAsync(string vhost)
    {
        try
        {
            using var management = LocalRabbitMqCluster.Management(ClientNode);
            using var timeout = new CancellationTokenSource(RequestTimeout);
            using var _ = await management.DeleteAsync($"api/vhosts/{Uri.EscapeDataString(vhost)}", timeout.Token);
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException)
        {
            // The fixture deletes it again with the cluster.
        }
    }

    public async Task<string> DescribeQueuesAsync(string vhost, CancellationToken cancellationToken)
    {
        using var management = LocalRabbitMqCluster.Management(ClientNode);
        return await management.GetStringAsync($"api/queues/{Uri.EscapeDataString(vhost)}?columns=name,type,messages,messages_ready,messages_unacknowledged,consumers", cancellationToken);
    }

    public Uri ClientUri(string vhost) => LocalRabbitMqCluster.AmqpUri(ClientNode, vhost);

    public Uri WorkerUri(string vhost) => LocalRabbitMqCluster.AmqpUri(WorkerNode, vhost);

    /// <summary>The nodes (1..3) the workers' connections are on, as the management API lists them (test clients excluded).</summary>
    public async Task<IReadOnlyList<int>> WorkerNodesAsync(string vhost, CancellationToken cancellationToken)
    {
        using var management = LocalRabbitMqCluster.Management(ClientNode);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        List<ConnectionInfo> connections;
        try
        {
            connections = await management.GetFromJsonAsync<List<ConnectionInfo>>($"api/vhosts/{Uri.EscapeDataString(vhost)}/connections", timeout.Token) ?? [];
        }
        catch (Exception exception) when (exception is HttpRequestException || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return [];
        }

        return [.. connections
            .Where(c => c.UserProvidedName is null || !c.UserProvidedName.StartsWith("fault-", StringComparison.Ordinal))
            .Select(c => NodeNumber(c.Node))
            .Where(n => n > 0)
            .Distinct()
            .Order()];
    }

    /// <summary>
    /// A quorum queue's leader (1..3) and how many of its members are online, or null when not known (yet): while a
    /// node is down or a queue between leaders the management API may answer late or not at all, so each request is
    /// bounded and the caller polls.
    /// </summary>
    public async Task<(int Leader, int Online)?> QueueLeaderAsync(string vhost, string queue, CancellationToken cancellationToken)
    {
        using var management = LocalRabbitMqCluster.Management(ClientNode);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        try
        {
            var info = await management.GetFromJsonAsync<QueueInfo>($"api/queues/{Uri.EscapeDataString(vhost)}/{Uri.EscapeDataString(queue)}", timeout.Token);
            return info is { Leader: { } leader } && NodeNumber(leader) > 0 ? (NodeNumber(leader), info.Online?.Count ?? 0) : null;
        }
        catch (Exception exception) when (exception is HttpRequestException || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return null;
        }
    }

    private int NodeNumber(string? name) =>
        Enumerable.Range(1, LocalRabbitMqCluster.NodeCount).FirstOrDefault(n => cluster.NodeName(n) == name);

    private sealed record ConnectionInfo(
        [property: JsonPropertyName("node")] string? Node,
        [property: JsonPropertyName("user_provided_name")] string? UserProvidedName);

    private sealed record QueueInfo(
        [property: JsonPropertyName("type")] string? Type,
        [property: JsonPropertyName("leader")] string? Leader,
        [property: JsonPropertyName("online")] List<string>? Online);
}
