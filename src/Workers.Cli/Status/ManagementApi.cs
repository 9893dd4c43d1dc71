using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Serialization;

namespace Workers.Cli.Status;

/// <summary>The parts of the RabbitMQ management HTTP API that <c>workers status</c> reads.</summary>
internal sealed class ManagementApi : IDisposable
{
    private readonly HttpClient client;

    public ManagementApi(Uri uri)
    {
        client = new HttpClient { BaseAddress = new Uri(uri.GetLeftPart(UriPartial.Authority) + "/"), Timeout = TimeSpan.FromSeconds(15) };
        var userInfo = Uri.UnescapeDataString(uri.UserInfo);
        if (userInfo.Length > 0)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(userInfo)));
        }
    }

    public async Task<IReadOnlyList<QueueState>> GetQueuesAsync(string virtualHost, CancellationToken cancellationToken)
    {
        using var response = await client.GetAsync($"api/queues/{Uri.EscapeDataString(virtualHost)}?columns=name,messages_ready,messages_unacknowledged,consumers,type", cancellationToken);
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            throw new CliException("the management API refused the credentials (check --management).");
        }

        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            throw new CliException($"unknown vhost '{virtualHost}' on the management API.");
        }

        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<List<QueueState>>(cancellationToken) ?? [];
    }

    public void Dispose() => client.Dispose();

    /// <summary>What the management API says of one queue.</summary>
    internal sealed record QueueState(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("messages_ready")] long? Ready,
        [property: JsonPropertyName("messages_unacknowledged")] long? Unacknowledged,
        [property: JsonPropertyName("consumers")] long? Consumers,
        [property: JsonPropertyName("type")] string? Type);
}
