using System.Net.Http.Json;
using System.Text.Json.Serialization;

namespace Workers.Cli.Status;

/// <summary>
/// The seam for state only the workers know (circuit breaker, bulkhead, outbox lag): a worker exposes it as JSON
/// at a status URL (<c>--worker-url</c>), in the shape of <see cref="WorkerStatus"/>. Until the workers serve it,
/// those columns show <c>-</c>.
/// </summary>
internal interface IWorkerStatusSource
{
    Task<WorkerStatus> GetAsync(CancellationToken cancellationToken);
}

/// <summary>The status document a worker serves: <c>{ "endpoints": [ { "name", "circuitState", "bulkheadInFlight", "bulkheadLimit" } ], "outbox": { "pending", "lagSeconds", "quarantined", "held" } }</c>.</summary>
internal sealed record WorkerStatus(
    [property: JsonPropertyName("endpoints")] IReadOnlyList<WorkerEndpointStatus>? Endpoints,
    [property: JsonPropertyName("outbox")] OutboxStatus? Outbox);

internal sealed record WorkerEndpointStatus(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("circuitState")] string? CircuitState,
    [property: JsonPropertyName("bulkheadInFlight")] int? BulkheadInFlight,
    [property: JsonPropertyName("bulkheadLimit")] int? BulkheadLimit);

internal sealed record OutboxStatus(
    [property: JsonPropertyName("pending")] long? Pending,
    [property: JsonPropertyName("lagSeconds")] double? LagSeconds,
    [property: JsonPropertyName("quarantined")] long? Quarantined = null,
    [property: JsonPropertyName("held")] long? Held = null);

/// <summary>Reads a worker's status document over HTTP.</summary>
internal sealed class HttpWorkerStatusSource : IWorkerStatusSource
{
    private readonly Uri url;
    private readonly HttpClient client;

    public HttpWorkerStatusSource(Uri url, HttpClient client)
    {
        this.url = url;
        this.client = client;
    }

    public async Task<WorkerStatus> GetAsync(CancellationToken cancellationToken)
    {
        var where = new UriBuilder(url) { UserName = string.Empty, Password = string.Empty, Query = string.Empty }.Uri;
        try
        {
            return await client.GetFromJsonAsync<WorkerStatus>(url, cancellationToken)
                ?? throw new CliException($"worker status at {where} is empty.");
        }
        catch (HttpRequestException exception)
        {
            throw new CliException($"worker status at {where}: {exception.Message}", exception);
        }
        catch (System.Text.Json.JsonException exception)
        {
            throw new CliException($"worker status at {where} is not a status document: {exception.Message}", exception);
        }
    }
}
