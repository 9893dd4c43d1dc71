using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Workers.Cli.Broker;

/// <summary>
/// One AMQP connection to the broker for the duration of a command (no automatic recovery: a command that
/// loses its connection stops, and the broker returns every unacknowledged message to its queue).
/// </summary>
internal sealed class BrokerClient : IAsyncDisposable
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);
    private readonly IConnection connection;

    private BrokerClient(IConnection connection, Uri uri)
    {
        this.connection = connection;
        Uri = uri;
        VirtualHost = uri.AbsolutePath.Length <= 1 ? "/" : Uri.UnescapeDataString(uri.AbsolutePath[1..]);
    }

    public Uri Uri { get; }

    public string VirtualHost { get; }

    public static async Task<BrokerClient> ConnectAsync(Uri uri, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory
        {
            Uri = uri,
            AutomaticRecoveryEnabled = false,
            TopologyRecoveryEnabled = false,
            RequestedConnectionTimeout = ConnectTimeout,
            ClientProvidedName = "workers-cli",
        };
        var connection = await factory.CreateConnectionAsync(cancellationToken);
        return new BrokerClient(connection, uri);
    }

    /// <summary>A channel with publisher confirms: each publish completes when the broker has taken the message.</summary>
    public Task<IChannel> OpenConfirmedChannelAsync(CancellationToken cancellationToken) =>
        connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);

    public Task<IChannel> OpenChannelAsync(CancellationToken cancellationToken) =>
        connection.CreateChannelAsync(cancellationToken: cancellationToken);

    /// <summary>The queue's ready count and consumers, or null when it does not exist (checked on a throwaway channel).</summary>
    public async Task<QueueDeclareOk?> InspectQueueAsync(string queue, CancellationToken cancellationToken)
    {
        var channel = await OpenChannelAsync(cancellationToken);
        try
        {
            return await channel.QueueDeclarePassiveAsync(queue, cancellationToken);
        }
        catch (OperationInterruptedException interrupted) when (interrupted.ShutdownReason?.ReplyCode == 404)
        {
            return null;
        }
        finally
        {
            await CloseQuietlyAsync(channel);
        }
    }

    /// <summary>The queue's state; a one-line failure when it does not exist.</summary>
    public async Task<QueueDeclareOk> RequireQueueAsync(string queue, CancellationToken cancellationToken) =>
        await InspectQueueAsync(queue, cancellationToken)
            ?? throw new CliException($"unknown queue '{queue}' in vhost '{VirtualHost}'.");

    public async Task<bool> ExchangeExistsAsync(string exchange, CancellationToken cancellationToken)
    {
        var channel = await OpenChannelAsync(cancellationToken);
        try
        {
            await channel.ExchangeDeclarePassiveAsync(exchange, cancellationToken);
            return true;
        }
        catch (OperationInterruptedException interrupted) when (interrupted.ShutdownReason?.ReplyCode == 404)
        {
            return false;
        }
        finally
        {
            await CloseQuietlyAsync(channel);
        }
    }

    public static async Task CloseQuietlyAsync(IChannel channel)
    {
        try
        {
            if (channel.IsOpen)
            {
                await channel.CloseAsync();
            }
        }
        catch (Exception exception) when (exception is OperationInterruptedException or AlreadyClosedException or IOException or ObjectDisposedException)
        {
            // The channel is gone either way; the broker requeues what it held.
        }
        finally
        {
            channel.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (connection.IsOpen)
            {
                await connection.CloseAsync();
            }
        }
        catch (Exception exception) when (exception is OperationInterruptedException or AlreadyClosedException or IOException or ObjectDisposedException)
        {
            // Closing a broken connection: nothing left to do.
        }
        finally
        {
            connection.Dispose();
        }
    }
}
