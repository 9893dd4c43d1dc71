using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Workers.Resilience.Redelivery;

namespace Workers.Resilience.Broker;

/// <summary>Runs <see cref="BrokerRequirements"/> at host start (before the bus when registered before MassTransit).</summary>
internal sealed class BrokerRequirementsHostedService : IHostedService
{
    private readonly BrokerClient transport;
    private readonly RedeliveryConnection connection;
    private readonly ILogger<BrokerRequirementsHostedService> logger;

    public BrokerRequirementsHostedService(BrokerClient transport, RedeliveryConnection connection, ILogger<BrokerRequirementsHostedService> logger)
    {
        this.transport = transport;
        this.connection = connection;
        this.logger = logger;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var (product, version) = await BrokerRequirements.VerifyAsync(transport, BrokerRequirements.Describe(connection.BrokerUri), cancellationToken).ConfigureAwait(false);
        RedeliveryLog.BrokerVerified(logger, product, version, DelayLadder.Levels);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>The broker URI the redelivery transport was registered with.</summary>
internal sealed record RedeliveryConnection(Uri BrokerUri)
{
    /// <summary>Other nodes of the cluster (<c>host:port</c>) the transport may connect to.</summary>
    public IReadOnlyList<string> ClusterNodes { get; init; } = [];
}
