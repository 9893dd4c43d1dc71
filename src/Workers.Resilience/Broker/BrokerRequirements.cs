using System.Text;
using RabbitMQ.Client.Exceptions;
using Workers.Resilience.Broker;
using Workers.Resilience.Redelivery;

namespace Workers.Resilience;

/// <summary>
/// Start-up check of the broker for the redelivery stage: RabbitMQ ≥ 3.10 (quorum queues with message TTL and
/// at-least-once dead-lettering) and the delay ladder declared (idempotent). Fails with an actionable message.
/// <see cref="ResilienceConfigurationExtensions.AddWorkersRedelivery(Microsoft.Extensions.DependencyInjection.IServiceCollection, Uri)"/> runs it as a hosted service at start.
/// </summary>
public static class BrokerRequirements
{
    /// <summary>The oldest broker version the delay ladder works on.</summary>
    public static readonly Version MinimumVersion = new(3, 10);

    /// <summary>Connects to the broker, checks its version and declares the delay ladder.</summary>
    /// <param name="brokerUri">AMQP URI of the bus's vhost (the same the bus uses).</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>A task that fails with <see cref="InvalidOperationException"/> when the broker does not fit.</returns>
    public static async Task VerifyAsync(Uri brokerUri, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(brokerUri);
        var transport = new BrokerClient(brokerUri, "workers-broker-check");
        await using (transport.ConfigureAwait(false))
        {
            await VerifyAsync(transport, Describe(brokerUri), cancellationToken).ConfigureAwait(false);
        }
    }

    internal static async Task<(string Product, string Version)> VerifyAsync(BrokerClient transport, string where, CancellationToken cancellationToken)
    {
        IDictionary<string, object?> properties;
        try
        {
            properties = await transport.GetServerPropertiesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (BrokerUnreachableException ex)
        {
            throw new InvalidOperationException($"Workers redelivery: cannot reach the RabbitMQ broker at {where} ({ex.InnerException?.Message ?? ex.Message}). Check the broker URI, that the vhost exists and that the user may access it.", ex);
        }

        var product = Text(properties, "product") ?? "unknown";
        var version = Text(properties, "version") ?? "unknown";
        CheckVersion(product, version, where);
        try
        {
            await transport.EnsureLadderAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationInterruptedException ex)
        {
            throw new InvalidOperationException(
                $"Workers redelivery: the broker at {where} refused the delay ladder ({ex.ShutdownReason?.ReplyCode} {ex.ShutdownReason?.ReplyText}). " +
                $"Make sure the 'quorum_queue' feature flag is enabled (rabbitmqctl enable_feature_flag all), the user may configure '{DelayLadder.Prefix}.*' " +
                $"and no exchange or queue named '{DelayLadder.Prefix}.*' exists with other arguments (delete them when empty).",
                ex);
        }

        return (product, version);
    }

    /// <summary>Throws when the server is not RabbitMQ ≥ <see cref="MinimumVersion"/>. Pure.</summary>
    internal static void CheckVersion(string product, string version, string where)
    {
        if (!product.Contains("RabbitMQ", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"Workers redelivery: the broker at {where} is '{product}', not RabbitMQ; the delay ladder needs RabbitMQ ≥ {MinimumVersion}.");
        }

        var numeric = new string([.. version.TakeWhile(c => char.IsDigit(c) || c == '.')]).Trim('.');
        if (!Version.TryParse(numeric.Contains('.', StringComparison.Ordinal) ? numeric : numeric + ".0", out var parsed) || parsed < MinimumVersion)
        {
            throw new InvalidOperationException(
                $"Workers redelivery: RabbitMQ {version} at {where} is too old; the delay ladder needs RabbitMQ ≥ {MinimumVersion} " +
                "(quorum queues with message TTL and at-least-once dead-lettering). Upgrade the broker.");
        }
    }

    internal static string Describe(Uri uri) => $"{uri.Host}:{(uri.IsDefaultPort ? 5672 : uri.Port)}{uri.AbsolutePath}";

    private static string? Text(IDictionary<string, object?> properties, string key) =>
        properties.TryGetValue(key, out var value) ? value switch
        {
            byte[] bytes => Encoding.UTF8.GetString(bytes),
            string s => s,
            _ => value?.ToString(),
        } : null;
}
