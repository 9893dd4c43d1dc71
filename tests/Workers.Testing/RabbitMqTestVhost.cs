using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Xunit;

namespace Workers.Testing;

/// <summary>
/// A vhost of its own for one test class: created on start, deleted (with everything in it) at the end.
/// Use as <c>IClassFixture&lt;RabbitMqTestVhost&gt;</c>.
/// </summary>
public sealed class RabbitMqTestVhost : IAsyncLifetime
{
    private readonly Func<Task<(Uri Amqp, Uri Management)>> server;
    private HttpClient? management;
    private IConnection? connection;

    /// <summary>A vhost on the broker of the test environment (<see cref="TestEnvironment.RabbitMqUriVariable"/>).</summary>
    public RabbitMqTestVhost()
        : this(() => RabbitMqServer.GetAsync())
    {
    }

    /// <summary>A vhost on a broker of the caller's choice.</summary>
    internal RabbitMqTestVhost(Func<Task<(Uri Amqp, Uri Management)>> server) => this.server = server;

    /// <summary>The vhost's name (unique per instance).</summary>
    public string Name { get; } = $"workers-test-{Guid.NewGuid():N}"[..28];

    /// <summary>AMQP URI of this vhost, with credentials.</summary>
    public Uri Uri { get; private set; } = null!;

    /// <summary>The broker's management API URI, with credentials.</summary>
    public Uri ManagementUri { get; private set; } = null!;

    /// <summary>The management API client, authenticated.</summary>
    public HttpClient Management => management ?? throw new InvalidOperationException("The vhost is not initialised yet.");

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        var (amqp, mgmt) = await server();
        management = RabbitMqServer.CreateManagementClient(mgmt);
        ManagementUri = mgmt;
        var user = Uri.UnescapeDataString(amqp.UserInfo.Split(':')[0]);
        (await Management.PutAsync($"api/vhosts/{Escape(Name)}", null)).EnsureSuccessStatusCode();
        (await Management.PutAsJsonAsync($"api/permissions/{Escape(Name)}/{Escape(user)}", new { configure = ".*", write = ".*", read = ".*" })).EnsureSuccessStatusCode();
        Uri = new UriBuilder(amqp) { Path = "/" + Uri.EscapeDataString(Name) }.Uri;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (management is null)
        {
            return;
        }

        if (connection is not null)
        {
            await connection.CloseAsync();
            connection.Dispose();
        }

        using var response = await management.DeleteAsync($"api/vhosts/{Escape(Name)}");
        management.Dispose();
    }

    /// <summary>A connection to this vhost, opened on first use and closed with the fixture.</summary>
    public async Task<IConnection> GetConnectionAsync(CancellationToken cancellationToken = default)
    {
        connection ??= await new ConnectionFactory { Uri = Uri, ClientProvidedName = "workers-tests" }.CreateConnectionAsync(cancellationToken);
        return connection;
    }

    /// <summary>
    /// The exact number of ready messages in a queue (AMQP passive declare; unlike the management API's
    /// counters it is never stale), or null when the queue does not exist.
    /// </summary>
    public async Task<uint?> CountReadyAsync(string queue, CancellationToken cancellationToken = default)
    {
        var open = await GetConnectionAsync(cancellationToken);
        await using var channel = await open.CreateChannelAsync(cancellationToken: cancellationToken);
        try
        {
            return (await channel.QueueDeclarePassiveAsync(queue, cancellationToken)).MessageCount;
        }
        catch (OperationInterruptedException exception) when (exception.ShutdownReason?.ReplyCode == 404)
        {
            return null;
        }
    }

    /// <summary>Waits (bounded) until the queue holds exactly <paramref name="expected"/> ready messages.</summary>
    public async Task WaitForReadyCountAsync(string queue, uint expected, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        uint? last = null;
        try
        {
            while ((last = await CountReadyAsync(queue, cts.Token)) != expected)
            {
                await Task.Delay(50, cts.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Queue '{queue}' did not hold {expected} ready message(s) within {timeout}; last count: {last?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no queue"}.");
        }
    }

    /// <summary>Number of ready messages in a queue of this vhost, or null when the queue does not exist.</summary>
    public async Task<QueueInfo?> GetQueueAsync(string queue, CancellationToken cancellationToken = default)
    {
        using var response = await Management.GetAsync($"api/queues/{Escape(Name)}/{Escape(queue)}", cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<QueueInfo>(cancellationToken);
    }

    /// <summary>Names of all queues in this vhost.</summary>
    public async Task<IReadOnlyList<string>> ListQueuesAsync(CancellationToken cancellationToken = default)
    {
        var queues = await Management.GetFromJsonAsync<List<QueueInfo>>($"api/queues/{Escape(Name)}", cancellationToken) ?? [];
        return queues.Select(q => q.Name).ToList();
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> holds for the queue (polled, bounded by <paramref name="timeout"/>).
    /// The management API refreshes its counters every few seconds: prefer AMQP-level signals where you can.
    /// </summary>
    public async Task<QueueInfo> WaitForQueueAsync(string queue, Func<QueueInfo, bool> condition, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        QueueInfo? last = null;
        try
        {
            while (true)
            {
                last = await GetQueueAsync(queue, cts.Token);
                if (last is not null && condition(last))
                {
                    return last;
                }

                await Task.Delay(200, cts.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Queue '{queue}' did not reach the expected state within {timeout}; last seen: {(last is null ? "missing" : JsonSerializer.Serialize(last))}");
        }
    }

    private static string Escape(string value) => Uri.EscapeDataString(value);

    /// <summary>What the management API says of a queue.</summary>
    public sealed record QueueInfo(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("messages")] long Messages,
        [property: JsonPropertyName("messages_ready")] long MessagesReady,
        [property: JsonPropertyName("messages_unacknowledged")] long MessagesUnacknowledged,
        [property: JsonPropertyName("consumers")] int Consumers,
        [property: JsonPropertyName("type")] string? Type,
        [property: JsonPropertyName("arguments")] IReadOnlyDictionary<string, JsonElement>? Arguments = null);
}
