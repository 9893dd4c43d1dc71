using System.Text;
using System.Text.Json;
using RabbitMQ.Client;

namespace Workers.Testing;

/// <summary>Publishes a message in MassTransit's JSON envelope with the plain RabbitMQ client, as another service would.</summary>
public static class MassTransitEnvelope
{
    /// <summary>The envelope's content type.</summary>
    public const string ContentType = "application/vnd.masstransit+json";

    /// <summary>
    /// Publishes <paramref name="message"/> to the exchange of <paramref name="messageType"/> (<c>Namespace:Type</c>,
    /// MassTransit's exchange name for a message type), persistent and confirmed. Returns the message id.
    /// </summary>
    public static async Task<Guid> PublishAsync(RabbitMqTestVhost vhost, string messageType, object message, Guid? messageId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vhost);
        var id = messageId ?? Guid.NewGuid();
        var envelope = new Dictionary<string, object?>
        {
            ["messageId"] = id,
            ["messageType"] = new[] { "urn:message:" + messageType },
            ["message"] = message,
            ["sentTime"] = DateTime.UtcNow,
            ["headers"] = new Dictionary<string, object>(),
        };
        var connection = await vhost.GetConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
        var properties = new BasicProperties { ContentType = ContentType, MessageId = id.ToString(), Persistent = true };
        await channel.BasicPublishAsync(messageType, string.Empty, mandatory: false, properties, Encoding.UTF8.GetBytes(JsonSerializer.Serialize(envelope)), cancellationToken);
        return id;
    }
}
