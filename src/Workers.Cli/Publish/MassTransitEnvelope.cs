using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using RabbitMQ.Client;

namespace Workers.Cli.Publish;

/// <summary>
/// MassTransit's JSON envelope (<c>application/vnd.masstransit+json</c>): the message plus its addressing and
/// identity, as MassTransit's own serializer writes it, so that MassTransit consumers accept what we publish.
/// </summary>
internal static class MassTransitEnvelope
{
    public const string ContentType = "application/vnd.masstransit+json";

    private static readonly JsonObject HostInfo = CreateHostInfo();

    /// <summary>The envelope's bytes for one message.</summary>
    public static byte[] Create(Guid messageId, Guid conversationId, string messageTypeUrn, JsonNode message, Uri sourceAddress, Uri destinationAddress, DateTimeOffset sentTime, IReadOnlyDictionary<string, string> headers)
    {
        var headerObject = new JsonObject();
        foreach (var (key, value) in headers)
        {
            headerObject[key] = value;
        }

        var envelope = new JsonObject
        {
            ["messageId"] = messageId.ToString("D"),
            ["requestId"] = null,
            ["correlationId"] = null,
            ["conversationId"] = conversationId.ToString("D"),
            ["initiatorId"] = null,
            ["sourceAddress"] = sourceAddress.ToString(),
            ["destinationAddress"] = destinationAddress.ToString(),
            ["responseAddress"] = null,
            ["faultAddress"] = null,
            ["messageType"] = new JsonArray(messageTypeUrn),
            ["message"] = message.DeepClone(),
            ["expirationTime"] = null,
            ["sentTime"] = sentTime.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
            ["headers"] = headerObject,
            ["host"] = HostInfo.DeepClone(),
        };
        return JsonSerializer.SerializeToUtf8Bytes(envelope);
    }

    /// <summary>
    /// The AMQP properties MassTransit sets: persistent, content type, message id; custom headers go both to the
    /// envelope and to the transport headers (MassTransit reads either).
    /// </summary>
    public static BasicProperties CreateProperties(Guid messageId, IReadOnlyDictionary<string, string> headers)
    {
        var transportHeaders = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in headers)
        {
            transportHeaders[key] = value;
        }

        return new BasicProperties
        {
            ContentType = ContentType,
            MessageId = messageId.ToString("D"),
            DeliveryMode = DeliveryModes.Persistent,
            Headers = transportHeaders,
        };
    }

    /// <summary>The MassTransit address of a queue or exchange: <c>rabbitmq://host:port/vhost/name</c>.</summary>
    public static Uri AddressOf(Uri broker, string virtualHost, string name)
    {
        var path = virtualHost == "/" ? "/" + Uri.EscapeDataString(name) : $"/{Uri.EscapeDataString(virtualHost)}/{Uri.EscapeDataString(name)}";
        return new UriBuilder(broker.Scheme == "amqps" ? "rabbitmqs" : "rabbitmq", broker.Host, broker.Port, path).Uri;
    }

    private static JsonObject CreateHostInfo()
    {
        var assembly = typeof(MassTransitEnvelope).Assembly.GetName();
        return new JsonObject
        {
            ["machineName"] = Environment.MachineName,
            ["processName"] = Process.GetCurrentProcess().ProcessName,
            ["processId"] = Environment.ProcessId,
            ["assembly"] = assembly.Name,
            ["assemblyVersion"] = assembly.Version?.ToString(),
            ["frameworkVersion"] = Environment.Version.ToString(),
            ["massTransitVersion"] = null,
            ["operatingSystemVersion"] = RuntimeInformation.OSDescription,
        };
    }
}
