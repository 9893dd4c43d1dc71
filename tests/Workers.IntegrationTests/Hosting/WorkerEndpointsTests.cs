using System.Net;
using System.Text.Json;
using Workers.Hosting;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Hosting;

/// <summary>
/// The sample worker as a real process, configured by environment variables as in a container: its HTTP
/// endpoints (liveness, readiness with the broker up and unreachable, Prometheus metrics) and its graceful stop on SIGTERM.
/// </summary>
public sealed partial class WorkerEndpointsTests : IClassFixture<RabbitMqTestVhost>, IClassFixture<PostgresTestDatabase>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly RabbitMqTestVhost vhost;
    private readonly PostgresTestDatabase database;

    public WorkerEndpointsTests(RabbitMqTestVhost vhost, PostgresTestDatabase database)
    {
        this.vhost = vhost;
        this.database = database;
    }

    [Fact]
    public async Task AllWell_ReadyAndLive_MetricsCountConsumption_AndSigtermExitsCleanly()
    {
        await using var worker = StartWorker(vhost.Uri);
        using var http = new HttpClient { BaseAddress = await worker.WaitForListeningAsync(Bound) };
        var ready = await WaitForReady(http, r => r.Code == HttpStatusCode.OK, worker);
        Assert.Equal("Healthy", ready.Status);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(WorkersHealth.LivePath, TestContext.Current.CancellationToken)).StatusCode);

        await MassTransitEnvelope.PublishAsync(vhost, "Workers.Sample.Contracts:SubmitOrder", new { orderId = Guid.NewGuid(), customerId = "c-1", amount = 12.5m }, cancellationToken: TestContext.Current.CancellationToken);
        var consumed = await WorkerMetrics.WaitAsync(http, "messaging_masstransit_consume_ea_total", n => n >= 2, worker, Bound);

        Assert.True(consumed >= 2, "the order and its OrderAccepted event are counted");
        worker.Terminate();
        Assert.Equal(0, await worker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("Application is shutting down", worker.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BrokerUnreachable_ReadinessIs503_LivenessStays200_AndBothRecover()
    {
        var broker = vhost.Uri;
        await using var proxy = new TcpProxy(broker.Host, broker.Port);
        await using var worker = StartWorker(new UriBuilder(broker) { Port = proxy.Port }.Uri);
        using var http = new HttpClient { BaseAddress = await worker.WaitForListeningAsync(Bound) };
        await WaitForReady(http, r => r.Code == HttpStatusCode.OK, worker);

        proxy.Cut();
        var down = await WaitForReady(http, r => r.Code == HttpStatusCode.ServiceUnavailable, worker);

        // Its own connection is down: unhealthy, not merely degraded (degraded answers 200).
        Assert.Equal("Unhealthy", down.Status);
        Assert.Contains("masstransit-bus", down.Body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(WorkersHealth.LivePath, TestContext.Current.CancellationToken)).StatusCode);

        proxy.Restore();
        var up = await WaitForReady(http, r => r.Code == HttpStatusCode.OK, worker);
        Assert.Equal("Healthy", up.Status);
    }

    [Fact]
    public async Task DependencyDown_BreakerOpens_ReadinessStays200_ItsBodyAndStatusSayWhy_AndAllRecoverWhenItReturns()
    {
        var overrides = Path.Combine(Path.GetTempPath(), $"workers-overrides-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(overrides, """{ "Sample": { "Payment": { "Down": true } } }""", TestContext.Current.CancellationToken);
        try
        {
            await using var worker = StartWorker(vhost.Uri, new Dictionary<string, string>
            {
                ["WORKERS_SAMPLE_OVERRIDES"] = overrides,
                ["Workers__Endpoints__submit-order__CircuitBreaker__MinimumThroughput"] = "5",
                ["Workers__Endpoints__submit-order__CircuitBreaker__BreakDuration"] = "00:00:01",
                ["Workers__Endpoints__submit-order__CircuitBreaker__MaxBreakDuration"] = "00:00:02",
            });
            using var http = new HttpClient { BaseAddress = await worker.WaitForListeningAsync(Bound) };
            await WaitForReady(http, r => r.Code == HttpStatusCode.OK, worker);

            var ids = Enumerable.Range(0, 10).Select(_ => Guid.NewGuid()).ToArray();
            foreach (var id in ids)
            {
                await MassTransitEnvelope.PublishAsync(vhost, "Workers.Sample.Contracts:SubmitOrder", new { orderId = id, customerId = "c", amount = 5m }, cancellationToken: TestContext.Current.CancellationToken);
            }

            // A dependency's outage is the same on every replica: the pod stays ready (rollouts and evictions go on),
            // and says why it is degraded. Its paused endpoint (MassTransit's bus check) is degraded too, not unhealthy.
            var open = await WaitForReady(http, r => r.Status == "Degraded" && CheckStatus(r.Body, "circuit-breakers") == "Degraded", worker);
            Assert.Equal(HttpStatusCode.OK, open.Code);
            Assert.NotEqual("Unhealthy", CheckStatus(open.Body, "masstransit-bus"));
            using (var status = JsonDocument.Parse(await http.GetStringAsync(WorkersHealth.StatusPath, TestContext.Current.CancellationToken)))
            {
                var orders = status.RootElement.GetProperty("endpoints").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "submit-order");
                Assert.Contains(orders.GetProperty("circuitState").GetString(), new[] { "Open", "HalfOpen" });
            }

            await File.WriteAllTextAsync(overrides, """{ "Sample": { "Payment": { "Down": false } } }""", TestContext.Current.CancellationToken);
            var closed = await WaitForReady(http, r => r.Code == HttpStatusCode.OK && r.Status == "Healthy", worker);
            Assert.Equal("Healthy", closed.Status);
            // Every order applied exactly once after the outage, none dead-lettered because of it.
            var deadline = DateTime.UtcNow + Bound;
            Dictionary<Guid, int> accepted;
            while ((accepted = await AcceptedCounts(ids)).Count < ids.Length && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, TestContext.Current.CancellationToken);
            }

            Assert.Equal(ids.Length, accepted.Count);
            Assert.All(accepted.Values, n => Assert.Equal(1, n));
            Assert.Equal(0u, await vhost.CountReadyAsync("submit-order_error", TestContext.Current.CancellationToken) ?? 0u);
        }
        finally
        {
            File.Delete(overrides);
        }
    }

    private async Task<Dictionary<Guid, int>> AcceptedCounts(Guid[] ids)
    {
        await using var connection = new Npgsql.NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new Npgsql.NpgsqlCommand("select order_id, count(*)::int from sample_effects where kind = 'accepted' and order_id = any(@ids) group by order_id", connection);
        command.Parameters.AddWithValue("ids", ids);
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        var counts = new Dictionary<Guid, int>();
        while (await reader.ReadAsync(TestContext.Current.CancellationToken))
        {
            counts[reader.GetGuid(0)] = reader.GetInt32(1);
        }

        return counts;
    }

    private WorkerProcess StartWorker(Uri broker, Dictionary<string, string>? extra = null) =>
        WorkerProcess.Start(WorkerProcess.ProjectAssembly("Workers.Sample"), SampleWorkerEnvironment.For(broker, database.ConnectionString, extra));

    private static string? CheckStatus(string body, string check)
    {
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("checks").TryGetProperty(check, out var entry) ? entry.GetProperty("status").GetString() : null;
    }

    private static async Task<(HttpStatusCode Code, string Status, string Body)> ReadyAsync(HttpClient http)
    {
        using var response = await http.GetAsync(WorkersHealth.ReadyPath, TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        using var json = JsonDocument.Parse(body);
        return (response.StatusCode, json.RootElement.GetProperty("status").GetString()!, body);
    }

    private static async Task<(HttpStatusCode Code, string Status, string Body)> WaitForReady(HttpClient http, Func<(HttpStatusCode Code, string Status, string Body), bool> condition, WorkerProcess worker)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            var ready = await ReadyAsync(http);
            if (condition(ready))
            {
                return ready;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Readiness did not reach the expected state within {Bound}; last: {ready.Code} {ready.Body}\n{worker.Output}");
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }
}
