using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using RabbitMQ.Client;

namespace Workers.Benchmarks.Infrastructure;

/// <summary>
/// A vhost of one contender's own, created through the management API and deleted (with its queues) at the end,
/// so that no contender ever sees another one's queues, bindings or leftovers.
/// </summary>
internal sealed class BenchVhost : IAsyncDisposable
{
    private readonly HttpClient management;
    private IConnection? connection;

    private BenchVhost(HttpClient management, string name, Uri uri)
    {
        this.management = management;
        Name = name;
        Uri = uri;
    }

    public string Name { get; }

    /// <summary>AMQP URI of the vhost, with credentials.</summary>
    public Uri Uri { get; }

    public static async Task<BenchVhost> CreateAsync(string contender, CancellationToken cancellationToken)
    {
        var name = $"workers-bench-{contender}-{Guid.NewGuid():N}"[..Math.Min(64, 22 + contender.Length)];
        var client = CreateManagementClient(BenchEnvironment.RabbitMqManagement);
        var amqp = BenchEnvironment.RabbitMq;
        var user = Uri.UnescapeDataString(amqp.UserInfo.Split(':')[0]);
        try
        {
            (await client.PutAsync($"api/vhosts/{Escape(name)}", null, cancellationToken).ConfigureAwait(false)).EnsureSuccessStatusCode();
            (await client.PutAsJsonAsync($"api/permissions/{Escape(name)}/{Escape(user)}", new { configure = ".*", write = ".*", read = ".*" }, cancellationToken).ConfigureAwait(false)).EnsureSuccessStatusCode();
        }
        catch
        {
            client.Dispose();
            throw;
        }

        var uri = new UriBuilder(amqp) { Path = "/" + Uri.EscapeDataString(name) }.Uri;
        return new BenchVhost(client, name, uri);
    }

    /// <summary>A raw connection to this vhost for housekeeping (queue deletes), opened once.</summary>
    public async Task<IConnection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        connection ??= await new ConnectionFactory { Uri = Uri, ClientProvidedName = "workers-bench-admin" }.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    /// <summary>Deletes a queue (and any messages left in it); no error when it does not exist.</summary>
    public async Task DeleteQueueAsync(string queue, CancellationToken cancellationToken)
    {
        var open = await GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var channel = await open.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Messages ready in <paramref name="queue"/> (passive declare).</summary>
    public async Task<uint> CountMessagesAsync(string queue, CancellationToken cancellationToken)
    {
        var open = await GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var channel = await open.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var ok = await channel.QueueDeclarePassiveAsync(queue, cancellationToken).ConfigureAwait(false);
        return ok.MessageCount;
    }

    /// <summary>The prefetch counts the broker applies to the consumers of <paramref name="queue"/> (management API).</summary>
    public async Task<IReadOnlyList<int>> GetConsumerPrefetchAsync(string queue, CancellationToken cancellationToken)
    {
        using var response = await management.GetAsync($"api/consumers/{Escape(Name)}", cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        using var document = await System.Text.Json.JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), cancellationToken: cancellationToken).ConfigureAwait(false);
        var result = new List<int>();
        foreach (var consumer in document.RootElement.EnumerateArray())
        {
            if (consumer.TryGetProperty("queue", out var q) && q.TryGetProperty("name", out var n) && n.GetString() == queue
                && consumer.TryGetProperty("prefetch_count", out var prefetch))
            {
                result.Add(prefetch.GetInt32());
            }
        }

        return result;
    }

    public async ValueTask DisposeAsync()
    {
        if (connection is not null)
        {
            try
            {
                await connection.CloseAsync().ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                // Best effort: the vhost delete below closes it anyway.
            }

            connection.Dispose();
        }

        try
        {
            using var response = await management.DeleteAsync($"api/vhosts/{Escape(Name)}").ConfigureAwait(false);
        }
        finally
        {
            management.Dispose();
        }
    }

    internal static HttpClient CreateManagementClient(Uri uri)
    {
        var client = new HttpClient { BaseAddress = new Uri(uri.GetLeftPart(UriPartial.Authority)), Timeout = TimeSpan.FromSeconds(30) };
        var userInfo = Uri.UnescapeDataString(uri.UserInfo);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(userInfo)));
        return client;
    }

    private static string Escape(string value) => Uri.EscapeDataString(value);
}
