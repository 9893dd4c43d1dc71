using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Workers.Resilience.Broker;
using Workers.Resilience.DeadLetter;
using Workers.Resilience.Redelivery;

namespace Workers.Hosting;

/// <summary>
/// Before the bus starts: declares each endpoint's <c>_error</c> and <c>_skipped</c> queue exactly as MassTransit will
/// when it first moves a message there (an unreadable message to <c>_error</c>, an unknown type to <c>_skipped</c>), and
/// refuses to start when one exists with other arguments — a classic queue left from before an endpoint became quorum,
/// a quorum one without Workers' delivery limit. Otherwise every such move fails with 406, the consumer channel
/// closes, the message returns and comes back for ever: the endpoint stalls on its first bad message, silently. Every
/// refusal is reported at once; nothing is deleted or moved.
/// </summary>
internal sealed class DeadLetterQueuePreflight : IHostedService
{
    private readonly IOptions<WorkersOptions> options;
    private readonly WorkerEndpointCatalog catalog;
    private readonly BrokerClient broker;
    private readonly ILogger<DeadLetterQueuePreflight> logger;

    public DeadLetterQueuePreflight(IOptions<WorkersOptions> options, WorkerEndpointCatalog catalog, BrokerClient broker, ILogger<DeadLetterQueuePreflight> logger)
    {
        this.options = options;
        this.catalog = catalog;
        this.broker = broker;
        this.logger = logger;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var endpoints = catalog.Queues.Distinct(StringComparer.Ordinal).ToList();
        var refusals = new List<(string Queue, string Endpoint, QueueType Type, string Reason)>();
        foreach (var endpoint in endpoints)
        {
            var type = EffectiveEndpoint.Resolve(settings, endpoint, inboxAvailable: false).QueueType;
            foreach (var suffix in (string[])[DeadLetterConstants.ErrorQueueSuffix, DeadLetterConstants.SkippedQueueSuffix])
            {
                var name = endpoint + suffix;
                if (await broker.TryDeclareDeadLetterQueueAsync(name, type == QueueType.Quorum, cancellationToken).ConfigureAwait(false) is { } reason)
                {
                    refusals.Add((name, endpoint, type, reason));
                }
            }
        }

        var address = BrokerAddress.Parse(settings.RabbitMq.Uri);
        var where = $"{address.Host}:{address.Port}/{address.VirtualHost}";
        if (refusals.Count > 0)
        {
            var message = Describe(refusals, where);
            BrokerLog.DeadLetterQueuesRefused(logger, refusals.Count, where, message);
            throw new InvalidOperationException(message);
        }

        BrokerLog.DeadLetterQueuesVerified(logger, endpoints.Count, where);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    internal static string Describe(IReadOnlyList<(string Queue, string Endpoint, QueueType Type, string Reason)> refusals, string where)
    {
        var text = new StringBuilder()
            .Append("Workers: RabbitMQ at ").Append(where).Append(" has ").Append(refusals.Count)
            .Append(refusals.Count == 1 ? " dead-letter queue" : " dead-letter queues")
            .Append(" with other arguments than its endpoint declares it with. MassTransit moves unreadable messages to <queue>_error and unknown types to <queue>_skipped; ")
            .Append("against such a queue every move fails and the endpoint stalls on its first bad message. Move the queue's messages elsewhere and delete it ")
            .Append("(and its exchange of the same name), or set Workers:Endpoints:<queue>:QueueType to the type it has:");
        foreach (var (queue, endpoint, type, reason) in refusals)
        {
            text.Append("\n  - '").Append(queue).Append("' of endpoint '").Append(endpoint).Append("' (").Append(type == QueueType.Quorum ? "quorum, x-delivery-limit " + QuorumQueueArguments.UnreachableDeliveryLimit : "classic")
                .Append(" expected): ").Append(reason);
        }

        return text.ToString();
    }
}
