using System.Collections.Concurrent;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Workers.Resilience.DeadLetter;
using Workers.Resilience.Redelivery;

namespace Workers.Resilience.Broker;

/// <summary>
/// The framework's own connection to the broker (the bus's vhost), used to re-publish a failed message byte for byte,
/// with publisher confirms, into the delay ladder or the error queue, before MassTransit acks the original.
/// One per host (a DI singleton). Declares the topology it needs idempotently and caches what it declared.
/// </summary>
internal sealed class BrokerClient : IAsyncDisposable
{
    /// <summary>How long a stage waits for the broker's confirm of one redelivery or dead-letter copy before it holds the message instead.</summary>
    internal static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(15);

    private readonly ConnectionFactory factory;
    private readonly List<AmqpTcpEndpoint> endpoints;
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly ConcurrentDictionary<string, Task> declared = new(StringComparer.Ordinal);
    private IConnection? connection;
    private IChannel? publisher;
    private bool disposed;

    public BrokerClient(Uri brokerUri, string clientName = "workers-redelivery")
        : this(brokerUri, [], clientName)
    {
    }

    /// <summary>
    /// A transport on the broker of <paramref name="brokerUri"/> (credentials, vhost, TLS) that connects to its
    /// host or, when that fails, to any of <paramref name="clusterNodes"/> (<c>host:port</c>), as the bus does.
    /// </summary>
    public BrokerClient(Uri brokerUri, IReadOnlyList<string> clusterNodes, string clientName = "workers-redelivery")
    {
        ArgumentNullException.ThrowIfNull(brokerUri);
        ArgumentNullException.ThrowIfNull(clusterNodes);
        var tls = string.Equals(brokerUri.Scheme, "amqps", StringComparison.OrdinalIgnoreCase);
        endpoints = [new AmqpTcpEndpoint(brokerUri)];
        foreach (var node in clusterNodes)
        {
            var colon = node.LastIndexOf(':');
            var endpoint = new AmqpTcpEndpoint(node[..colon], int.Parse(node.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture));
            if (tls)
            {
                endpoint.Ssl.Enabled = true;
                endpoint.Ssl.ServerName = endpoint.HostName;
            }

            endpoints.Add(endpoint);
        }

        factory = new ConnectionFactory
        {
            Uri = brokerUri,
            ClientProvidedName = clientName,
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = false,
            RequestedConnectionTimeout = ConnectTimeout,
        };
    }

    /// <summary>Declares the delay ladder (once per transport; redeclared after a failure).</summary>
    public Task EnsureLadderAsync(CancellationToken cancellationToken) =>
        EnsureOnceAsync("ladder", DeclareLadderAsync, cancellationToken);

    /// <summary>
    /// Binds the delivery exchange to a destination queue. Not cached: a queue deleted and re-created while workers
    /// run loses its binding, and a delayed copy would then be dropped at the end of the ladder.
    /// </summary>
    public async Task EnsureDestinationAsync(string queue, CancellationToken cancellationToken)
    {
        await EnsureLadderAsync(cancellationToken).ConfigureAwait(false);
        await RunDeclarationAsync(async (channel, ct) =>
        {
            var arguments = new Dictionary<string, object?> { ["x-match"] = "all", [WorkersHeaders.Destination] = queue };
            await channel.QueueBindAsync(queue, DelayLadder.DeliveryExchange, string.Empty, arguments, cancellationToken: ct).ConfigureAwait(false);
        }).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Makes sure an error queue exists (MassTransit's shape: a fanout exchange of the same name bound to a durable queue).</summary>
    public Task EnsureErrorQueueAsync(string errorQueue, CancellationToken cancellationToken) =>
        EnsureOnceAsync("error:" + errorQueue, () => DeclareErrorQueueAsync(errorQueue), cancellationToken);

    /// <summary>Which error queues are quorum queues (those of quorum endpoints).</summary>
    public ErrorQueueTypes ErrorQueueTypes { get; init; } = new();

    // The error queue as the endpoint's type says (a quorum one with Workers' delivery limit); when the broker has it
    // of another shape already (declared by MassTransit or an older Workers without the limit, or of the other type),
    // the next shape on a fresh channel (a 406 closes the channel).
    private async Task DeclareErrorQueueAsync(string errorQueue)
    {
        (bool Quorum, bool Limit)[] shapes = ErrorQueueTypes.IsQuorum(errorQueue)
            ? [(true, true), (true, false), (false, false)]
            : [(false, false), (true, true), (true, false)];
        for (var i = 0; ; i++)
        {
            var shape = shapes[i];
            try
            {
                await RunDeclarationAsync((channel, ct) => DeclareErrorQueueAsync(channel, errorQueue, shape.Quorum, shape.Limit, ct)).ConfigureAwait(false);
                return;
            }
            catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 406 && i < shapes.Length - 1)
            {
            }
            catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 406)
            {
                // Declared by someone else with other arguments: take the broker's queue as it is (dead letters are
                // published to it through the default exchange, so its own exchange and binding are not needed).
                await RunDeclarationAsync((channel, ct) => channel.QueueDeclarePassiveAsync(errorQueue, ct)).ConfigureAwait(false);
                return;
            }
        }
    }

    /// <summary>
    /// Declares a dead-letter queue (<c>_error</c> or <c>_skipped</c>) of an endpoint exactly as MassTransit declares it
    /// when it first moves a message there (the endpoint's queue arguments: quorum with Workers' delivery limit, or
    /// classic). Returns null when the broker has it so or created it, or the broker's refusal (406) when a queue or
    /// exchange of that name exists with other arguments: every such move of MassTransit would then fail.
    /// </summary>
    internal async Task<string?> TryDeclareDeadLetterQueueAsync(string name, bool quorum, CancellationToken cancellationToken)
    {
        try
        {
            await RunDeclarationAsync((channel, ct) => DeclareErrorQueueAsync(channel, name, quorum, limit: quorum, ct)).WaitAsync(cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 406)
        {
            return ex.ShutdownReason.ReplyText;
        }
    }

    private static async Task DeclareErrorQueueAsync(IChannel channel, string errorQueue, bool quorum, bool limit, CancellationToken cancellationToken)
    {
        Dictionary<string, object?>? arguments = null;
        if (quorum)
        {
            arguments = new Dictionary<string, object?> { ["x-queue-type"] = "quorum" };
            if (limit)
            {
                arguments[QuorumQueueArguments.DeliveryLimit] = QuorumQueueArguments.UnreachableDeliveryLimit;
            }
        }

        await channel.ExchangeDeclareAsync(errorQueue, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueDeclareAsync(errorQueue, durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueBindAsync(errorQueue, errorQueue, string.Empty, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Publishes a message into the ladder so that it returns to <paramref name="queue"/> after <paramref name="delay"/>; completes once the broker confirmed it.</summary>
    public async Task PublishDelayedAsync(string queue, TimeSpan delay, ReadOnlyMemory<byte> body, BasicProperties properties, CancellationToken cancellationToken)
    {
        await EnsureDestinationAsync(queue, cancellationToken).ConfigureAwait(false);
        try
        {
            await PublishAsync(DelayLadder.EntryExchange(delay), DelayLadder.RoutingKey(delay), body, properties, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsMissing(ex))
        {
            // A ladder exchange or queue was deleted while workers run: forget the declaration, declare again, publish once more.
            declared.TryRemove("ladder", out _);
            await EnsureDestinationAsync(queue, cancellationToken).ConfigureAwait(false);
            await PublishAsync(DelayLadder.EntryExchange(delay), DelayLadder.RoutingKey(delay), body, properties, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Publishes a message to an error queue; completes once the broker confirmed it.</summary>
    public async Task PublishErrorAsync(string errorQueue, ReadOnlyMemory<byte> body, BasicProperties properties, CancellationToken cancellationToken)
    {
        await EnsureErrorQueueAsync(errorQueue, cancellationToken).ConfigureAwait(false);
        try
        {
            await PublishAsync(string.Empty, errorQueue, body, properties, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsMissing(ex))
        {
            // The error queue was deleted while workers run (the mandatory publish came back): declare it again, publish once more.
            declared.TryRemove("error:" + errorQueue, out _);
            await EnsureErrorQueueAsync(errorQueue, cancellationToken).ConfigureAwait(false);
            await PublishAsync(string.Empty, errorQueue, body, properties, cancellationToken).ConfigureAwait(false);
        }
    }

    // A return (unroutable: the queue is gone) or a 404 (the exchange is gone) on a publish.
    private static bool IsMissing(Exception exception) =>
        exception.InnerException is PublishReturnException
        || exception is PublishException { IsReturn: true }
        || (exception is OperationInterruptedException interrupted && interrupted.ShutdownReason?.ReplyCode == 404);

    /// <summary>The broker's server properties (version, product, capabilities).</summary>
    public async Task<IDictionary<string, object?>> GetServerPropertiesAsync(CancellationToken cancellationToken)
    {
        var current = await GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        return current.ServerProperties ?? new Dictionary<string, object?>();
    }

    /// <summary>
    /// Ready messages and consumers of a queue as the broker counts them (a passive declare on a channel of its own:
    /// a missing queue closes only that channel). Null when the queue does not exist.
    /// </summary>
    public async Task<(uint Messages, uint Consumers)?> InspectQueueAsync(string queue, CancellationToken cancellationToken)
    {
        var current = await GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        var channel = await current.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await using (channel.ConfigureAwait(false))
        {
            try
            {
                var ok = await channel.QueueDeclarePassiveAsync(queue, cancellationToken).ConfigureAwait(false);
                await channel.CloseAsync(cancellationToken).ConfigureAwait(false);
                return (ok.MessageCount, ok.ConsumerCount);
            }
            catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 404)
            {
                return null;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await gate.WaitAsync().ConfigureAwait(false);
        try
        {
            disposed = true;
            if (publisher is not null)
            {
                await publisher.DisposeAsync().ConfigureAwait(false);
                publisher = null;
            }

            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                connection = null;
            }
        }
        finally
        {
            gate.Release();
        }

        gate.Dispose();
    }

    private async Task PublishAsync(string exchange, string routingKey, ReadOnlyMemory<byte> body, BasicProperties properties, CancellationToken cancellationToken)
    {
        var channel = await GetPublisherAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // mandatory: an unroutable message is returned (PublishReturnException) instead of being confirmed and dropped.
            await channel.BasicPublishAsync(exchange, routingKey, mandatory: true, properties, body, cancellationToken).ConfigureAwait(false);
        }
        catch (PublishReturnException ex)
        {
            throw new InvalidOperationException($"The broker could not route the message to '{(exchange.Length == 0 ? routingKey : exchange)}' ({ex.ReplyCode} {ex.ReplyText}).", ex);
        }
    }

    private Task EnsureOnceAsync(string key, Func<IChannel, CancellationToken, Task> declare, CancellationToken cancellationToken) =>
        EnsureOnceAsync(key, () => RunDeclarationAsync(declare), cancellationToken);

    private async Task EnsureOnceAsync(string key, Func<Task> declare, CancellationToken cancellationToken)
    {
        var task = declared.GetOrAdd(key, _ => declare());
        try
        {
            await task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (task.IsFaulted || task.IsCanceled)
        {
            declared.TryRemove(new KeyValuePair<string, Task>(key, task));
            throw;
        }
    }

    // A channel of its own for declarations: a refused declaration (406) closes only that channel.
    private async Task RunDeclarationAsync(Func<IChannel, CancellationToken, Task> declare)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var current = await GetConnectionAsync(timeout.Token).ConfigureAwait(false);
        var channel = await current.CreateChannelAsync(cancellationToken: timeout.Token).ConfigureAwait(false);
        await using (channel.ConfigureAwait(false))
        {
            await declare(channel, timeout.Token).ConfigureAwait(false);
            await channel.CloseAsync(timeout.Token).ConfigureAwait(false);
        }
    }

    internal static async Task DeclareLadderAsync(IChannel channel, CancellationToken cancellationToken)
    {
        await channel.ExchangeDeclareAsync(DelayLadder.DeliveryExchange, ExchangeType.Headers, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
        for (var level = 0; level < DelayLadder.Levels; level++)
        {
            var name = DelayLadder.LevelName(level);
            await channel.ExchangeDeclareAsync(name, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
            var arguments = new Dictionary<string, object?>
            {
                ["x-queue-type"] = "quorum",
                ["x-message-ttl"] = (long)DelayLadder.LevelTtl(level).TotalMilliseconds,
                ["x-dead-letter-exchange"] = DelayLadder.NextExchange(level),
                ["x-dead-letter-strategy"] = "at-least-once",
                ["x-overflow"] = "reject-publish",
            };
            await channel.QueueDeclareAsync(name, durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueBindAsync(name, name, DelayLadder.BindingPattern(level, bit: true), cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.ExchangeBindAsync(DelayLadder.NextExchange(level), name, DelayLadder.BindingPattern(level, bit: false), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<IConnection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        var current = connection;
        if (current is not null)
        {
            return current;
        }

        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            connection ??= await factory.CreateConnectionAsync(endpoints, cancellationToken).ConfigureAwait(false);
            return connection;
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<IChannel> GetPublisherAsync(CancellationToken cancellationToken)
    {
        var current = publisher;
        if (current is { IsOpen: true })
        {
            return current;
        }

        var open = await GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (publisher is { IsOpen: true })
            {
                return publisher;
            }

            if (publisher is not null)
            {
                await publisher.DisposeAsync().ConfigureAwait(false);
            }

            var options = new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true);
            publisher = await open.CreateChannelAsync(options, cancellationToken).ConfigureAwait(false);
            return publisher;
        }
        finally
        {
            gate.Release();
        }
    }
}
