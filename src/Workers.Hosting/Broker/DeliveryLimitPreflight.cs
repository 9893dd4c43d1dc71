using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Workers.Resilience.Broker;
using Workers.Resilience.Redelivery;

namespace Workers.Hosting;

/// <summary>
/// Before the bus starts: reads the vhost's policies and operator policies from the management API and refuses to
/// start when one of them lowers the delivery limit of a quorum queue Workers uses (endpoint, <c>_error</c>,
/// <c>_skipped</c>) below <see cref="QuorumQueueArguments.MinimumDeliveryLimit"/>. Workers returns messages on purpose
/// (open breaker, half-open waiters, bulkhead overflow, shutdown, every <c>workers dlq</c> read); past the limit RabbitMQ
/// drops them. Without <see cref="RabbitMqOptions.ManagementUri"/>, or when the API does not answer, it warns and lets
/// the host start: the queues' own argument still keeps RabbitMQ 4's default limit of 20 away.
/// </summary>
internal sealed class DeliveryLimitPreflight : IHostedService
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);
    private readonly IOptions<WorkersOptions> options;
    private readonly WorkerEndpointCatalog catalog;
    private readonly ILogger<DeliveryLimitPreflight> logger;

    public DeliveryLimitPreflight(IOptions<WorkersOptions> options, WorkerEndpointCatalog catalog, ILogger<DeliveryLimitPreflight> logger)
    {
        this.options = options;
        this.catalog = catalog;
        this.logger = logger;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var queues = QuorumQueues(settings, catalog.Queues);
        if (queues.Count == 0)
        {
            return;
        }

        var broker = BrokerAddress.Parse(settings.RabbitMq.Uri);
        var where = $"{broker.Host}:{broker.Port}/{broker.VirtualHost}";
        if (string.IsNullOrWhiteSpace(settings.RabbitMq.ManagementUri))
        {
            BrokerLog.DeliveryLimitsNotVerified(logger, queues.Count, where, $"Workers:RabbitMq:ManagementUri is not set (nor {RabbitMqOptions.ManagementUriVariable})");
            return;
        }

        IReadOnlyList<BrokerPolicy> policies;
        Version version;
        try
        {
            using var client = CreateClient(settings.RabbitMq.ManagementUri, broker);
            version = await ReadVersionAsync(client, cancellationToken).ConfigureAwait(false);
            var list = new List<BrokerPolicy>(await ReadPoliciesAsync(client, "policies", broker.VirtualHost, false, cancellationToken).ConfigureAwait(false));
            try
            {
                list.AddRange(await ReadPoliciesAsync(client, "operator-policies", broker.VirtualHost, true, cancellationToken).ConfigureAwait(false));
            }
            catch (HttpRequestException ex)
            {
                BrokerLog.OperatorPoliciesNotRead(logger, where, ex.Message);
            }

            policies = list;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or FormatException && !cancellationToken.IsCancellationRequested)
        {
            BrokerLog.DeliveryLimitsNotVerified(logger, queues.Count, where, $"the management API at {BrokerAddress.Mask(settings.RabbitMq.ManagementUri)} did not answer ({ex.Message})");
            return;
        }

        var unreadable = new HashSet<string>(StringComparer.Ordinal);
        var violations = DeliveryLimits.Check(queues, policies, version, QuorumQueueArguments.MinimumDeliveryLimit, unreadable);
        foreach (var name in unreadable)
        {
            BrokerLog.PolicyPatternUnreadable(logger, name, where);
        }

        if (violations.Count > 0)
        {
            var message = Describe(violations, where, version);
            BrokerLog.DeliveryLimitsRefused(logger, violations.Count, where, message);
            throw new InvalidOperationException(message);
        }

        BrokerLog.DeliveryLimitsVerified(logger, queues.Count, where, version.ToString(), policies.Count);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The quorum queues of the endpoints: each endpoint's queue and the <c>_error</c> and <c>_skipped</c> beside it.</summary>
    internal static IReadOnlyList<string> QuorumQueues(WorkersOptions options, IEnumerable<string> endpointQueues) =>
        [.. endpointQueues
            .Distinct(StringComparer.Ordinal)
            .Where(q => EffectiveEndpoint.Resolve(options, q, inboxAvailable: false).QueueType == QueueType.Quorum)
            .SelectMany(q => new[] { q, q + Workers.Resilience.DeadLetter.DeadLetterConstants.ErrorQueueSuffix, q + "_skipped" })];

    internal static string Describe(IReadOnlyList<DeliveryLimitViolation> violations, string where, Version version)
    {
        var text = new StringBuilder()
            .Append("Workers: RabbitMQ ").Append(version).Append(" at ").Append(where)
            .Append(" limits how often a message may return to ").Append(violations.Count).Append(violations.Count == 1 ? " quorum queue" : " quorum queues")
            .Append(" Workers uses. Workers returns messages on purpose (an open circuit breaker, bulkhead overflow, shutdown, every 'workers dlq' read), ")
            .Append("and past the limit RabbitMQ drops the message (or dead-letters it, where the policy sets a dead-letter exchange). ")
            .Append("Remove delivery-limit from these policies, raise it to at least ").Append(QuorumQueueArguments.MinimumDeliveryLimit.ToString("N0", System.Globalization.CultureInfo.InvariantCulture))
            .Append(", or keep Workers' queues out of their pattern:");
        foreach (var v in violations)
        {
            text.Append("\n  - queue '").Append(v.Queue).Append("': delivery limit ").Append(v.Limit).Append(" from ").Append(v.Source);
        }

        return text.ToString();
    }

    private static HttpClient CreateClient(string managementUri, BrokerAddress broker)
    {
        var uri = new Uri(managementUri, UriKind.Absolute);
        var user = broker.Username;
        var password = broker.Password;
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            user = Uri.UnescapeDataString(parts[0]);
            password = parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : string.Empty;
        }

        var root = new UriBuilder(uri) { UserName = string.Empty, Password = string.Empty }.Uri.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/";
        var client = new HttpClient { BaseAddress = new Uri(root), Timeout = RequestTimeout };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return client;
    }

    private static async Task<Version> ReadVersionAsync(HttpClient client, CancellationToken cancellationToken)
    {
        using var document = await GetAsync(client, "api/overview", cancellationToken).ConfigureAwait(false);
        var text = document.RootElement.TryGetProperty("rabbitmq_version", out var v) ? v.GetString() ?? string.Empty : string.Empty;
        var numeric = new string([.. text.TakeWhile(c => char.IsDigit(c) || c == '.')]).Trim('.');
        return Version.TryParse(numeric.Contains('.', StringComparison.Ordinal) ? numeric : numeric + ".0", out var parsed)
            ? parsed
            : throw new FormatException($"unreadable rabbitmq_version '{text}'");
    }

    private static async Task<IReadOnlyList<BrokerPolicy>> ReadPoliciesAsync(HttpClient client, string kind, string vhost, bool isOperator, CancellationToken cancellationToken)
    {
        using var document = await GetAsync(client, $"api/{kind}/{Uri.EscapeDataString(vhost)}", cancellationToken).ConfigureAwait(false);
        var policies = new List<BrokerPolicy>();
        foreach (var p in document.RootElement.EnumerateArray())
        {
            long? limit = p.TryGetProperty("definition", out var definition) && definition.ValueKind == JsonValueKind.Object
                && definition.TryGetProperty("delivery-limit", out var l) && l.ValueKind == JsonValueKind.Number && l.TryGetInt64(out var value)
                ? value
                : null;
            policies.Add(new BrokerPolicy(
                p.GetProperty("name").GetString() ?? string.Empty,
                p.GetProperty("pattern").GetString() ?? string.Empty,
                p.TryGetProperty("apply-to", out var applyTo) ? applyTo.GetString() ?? "all" : "all",
                p.TryGetProperty("priority", out var priority) && priority.TryGetInt32(out var n) ? n : 0,
                limit,
                isOperator));
        }

        return policies;
    }

    private static async Task<JsonDocument> GetAsync(HttpClient client, string path, CancellationToken cancellationToken)
    {
        using var response = await client.GetAsync(path, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET {path}: {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            return await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }
}
