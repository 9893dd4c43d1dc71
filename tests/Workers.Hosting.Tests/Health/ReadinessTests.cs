using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Workers.Resilience;
using Workers.Resilience.CircuitBreaker;
using Xunit;

namespace Workers.Hosting.Tests.Health;

/// <summary>
/// What <c>/health/ready</c> answers, with the checks <c>AddWorkers</c> registers and <c>MapWorkersEndpoints</c>
/// served by Kestrel on loopback. No broker: the hosted services (bus, broker checks) are left out, and the two checks
/// that read the bus (MassTransit's, Workers' endpoints check) are replaced, under their own names and tags, by checks
/// the test sets as a real bus reports them (see <see cref="EndpointsReadinessCheckTests"/> for the endpoints decision).
/// </summary>
public sealed class ReadinessTests : IAsyncLifetime
{
    private const string BusCheck = "masstransit-bus";
    private readonly SettableCheck bus = new();
    private readonly SettableCheck endpoints = new();
    private WebApplication app = null!;
    private HttpClient http = null!;

    public async ValueTask InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Workers:RabbitMq:Uri"] = "amqp://guest:guest@127.0.0.1:5673/" });
        builder.AddWorkers(_ => { });

        // Keep the web server only: nothing may reach for a broker.
        foreach (var hosted in builder.Services.Where(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType?.Name != "GenericWebHostService").ToList())
        {
            builder.Services.Remove(hosted);
        }

        builder.Services.PostConfigure<HealthCheckServiceOptions>(options =>
        {
            foreach (var (name, check) in new[] { (BusCheck, bus), (EndpointsReadinessCheck.Name, endpoints) })
            {
                var registration = options.Registrations.Single(r => r.Name == name);
                Assert.Contains(WorkersHealth.ReadyTag, registration.Tags);
                registration.Factory = _ => check;
            }
        });

        app = builder.Build();
        app.MapWorkersEndpoints();
        await app.StartAsync(TestContext.Current.CancellationToken);
        http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
    }

    [Fact]
    public async Task AllWell_ReadyIs200Healthy()
    {
        var (code, status, _) = await ReadyAsync();

        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("Healthy", status);
    }

    [Fact]
    public async Task CircuitOpen_EndpointPaused_ReadyStays200_AndTheBodyNamesTheOpenCircuit()
    {
        // A shared dependency is down: the breaker opens and pauses its endpoint, which MassTransit reports as degraded.
        var breaker = app.Services.GetRequiredService<CircuitBreakerRegistry>()
            .GetOrAdd("submit-order", new CircuitBreakerOptions { MinimumThroughput = 2, FailureRatio = 0.5, BreakDuration = TimeSpan.FromMinutes(5) });
        Assert.False(await breaker.EnterAsync(CancellationToken.None));
        Assert.False(breaker.OnFailure(false, new InvalidOperationException("payments down")));
        Assert.False(await breaker.EnterAsync(CancellationToken.None));
        Assert.True(breaker.OnFailure(false, new InvalidOperationException("payments down")));
        Assert.Equal(CircuitState.Open, breaker.State);
        bus.Result = HealthCheckResult.Degraded("Degraded Endpoints: submit-order");
        endpoints.Result = HealthCheckResult.Degraded("Paused by their circuit breaker: submit-order.");

        var (code, status, checks) = await ReadyAsync();

        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("Degraded", status);
        var circuits = checks.GetProperty("circuit-breakers");
        Assert.Equal("Degraded", circuits.GetProperty("status").GetString());
        Assert.Contains("submit-order is Open", circuits.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Equal("Degraded", checks.GetProperty(BusCheck).GetProperty("status").GetString());
    }

    [Fact]
    public async Task BrokerConnectionLost_ReadyIs503_LiveStays200()
    {
        // What a reconnecting bus reports: MassTransit calls its endpoints merely degraded; Workers' check says why not ready.
        bus.Result = HealthCheckResult.Degraded("Degraded Endpoints: submit-order,order-accepted");
        endpoints.Result = HealthCheckResult.Unhealthy("Not consuming: submit-order, order-accepted (broker connection down or bus not started).");

        var (code, status, checks) = await ReadyAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, code);
        Assert.Equal("Unhealthy", status);
        Assert.Equal("Unhealthy", checks.GetProperty(EndpointsReadinessCheck.Name).GetProperty("status").GetString());
        using var live = await http.GetAsync(WorkersHealth.LivePath, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    private async Task<(HttpStatusCode Code, string Status, JsonElement Checks)> ReadyAsync()
    {
        using var response = await http.GetAsync(WorkersHealth.ReadyPath, TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var json = JsonDocument.Parse(body).RootElement;
        return (response.StatusCode, json.GetProperty("status").GetString()!, json.GetProperty("checks"));
    }

    private sealed class SettableCheck : IHealthCheck
    {
        public HealthCheckResult Result { get; set; } = HealthCheckResult.Healthy("Ready");

        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) => Task.FromResult(Result);
    }
}
