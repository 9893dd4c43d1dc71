using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Workers.Postgres.Storage;
using Workers.Postgres.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Outbox;

/// <summary>Broker unreachable for the dispatcher (a TCP proxy we cut; the shared broker is never touched).</summary>
public sealed class OutboxBrokerOutageTests(PostgresTestDatabase database, RabbitMqTestVhost vhost) : IClassFixture<PostgresTestDatabase>, IClassFixture<RabbitMqTestVhost>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task BrokerDownThenUp_RowsStayVisibleAsBacklogThenAllAreDelivered()
    {
        await WorkerHost.CreateSchemaAsync(database.ConnectionString, Ct);
        await using var proxy = new TcpProxy(vhost.Uri.Host, vhost.Uri.Port, enabled: false);
        var probe = new ConsumerProbe();
        using var dispatcherHost = WorkerHost.Build(
            new WorkerHostSettings
            {
                ConnectionString = database.ConnectionString,
                Broker = vhost.Uri,
                BrokerPortOverride = proxy.Port,
                Queue = "outage",
                Consume = false,
                Outbox = o =>
                {
                    o.PublishTimeout = TimeSpan.FromSeconds(1);
                    o.LagDegradedThreshold = TimeSpan.FromSeconds(1);
                    o.MaintenanceInterval = TimeSpan.FromMilliseconds(200);
                },
            },
            probe);
        using var consumerHost = WorkerHost.Build(
            new WorkerHostSettings { ConnectionString = database.ConnectionString, Broker = vhost.Uri, Queue = "outage", Dispatch = false },
            probe);
        await consumerHost.StartAsync(Ct);
        await consumerHost.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));
        await dispatcherHost.StartAsync(Ct);

        var run = Guid.NewGuid();
        var ids = await WorkerHost.WriteAsync(dispatcherHost.Services, Enumerable.Range(1, 20).Select(i => new OrderPlaced(run, i)), commit: true, Ct);

        // Broker down: publishes fail (bounded by PublishTimeout), rows stay, the backlog is visible.
        var health = dispatcherHost.Services.GetRequiredService<HealthCheckService>();
        await Eventually.HoldsAsync(
            async () => await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM workers_outbox WHERE id = ANY(@ids) AND dispatched_at IS NULL AND last_error IS NOT NULL", Ct, ("ids", ids.ToArray())) == 20
                && (await health.CheckHealthAsync(r => r.Name == "workers-outbox", Ct)).Status == HealthStatus.Degraded,
            TimeSpan.FromSeconds(30),
            async () => $"health {(await health.CheckHealthAsync(r => r.Name == "workers-outbox", Ct)).Status}",
            Ct);
        var backlog = dispatcherHost.Services.GetRequiredService<WorkersDatabase<TestDb>>().Backlog;
        Assert.True(backlog.Snapshot?.Pending >= 20);
        Assert.True(backlog.Lag > TimeSpan.FromSeconds(1));
        Assert.Empty(await Db.EffectsAsync(database.ConnectionString, run, Ct));

        // Broker back: everything is delivered, exactly once.
        proxy.Restore();
        await Eventually.HoldsAsync(
            async () => (await Db.EffectsAsync(database.ConnectionString, run, Ct)).Count == 20,
            TimeSpan.FromSeconds(60),
            async () => $"{(await Db.EffectsAsync(database.ConnectionString, run, Ct)).Count} of 20 delivered",
            Ct);
        Assert.All((await Db.EffectsAsync(database.ConnectionString, run, Ct)).Values, count => Assert.Equal(1, count));
        await Eventually.HoldsAsync(
            async () => (await health.CheckHealthAsync(r => r.Name == "workers-outbox", Ct)).Status == HealthStatus.Healthy,
            TimeSpan.FromSeconds(10),
            async () => $"health {(await health.CheckHealthAsync(r => r.Name == "workers-outbox", Ct)).Status}",
            Ct);

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await dispatcherHost.StopAsync(stop.Token);
        await consumerHost.StopAsync(stop.Token);
    }
}
