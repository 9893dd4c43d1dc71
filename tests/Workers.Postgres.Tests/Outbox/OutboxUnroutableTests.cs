using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Workers.Postgres.Outbox;
using Workers.Postgres.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Outbox;

/// <summary>A confirmed publish that no queue receives (basic.return) is not a dispatch (own database, own vhost).</summary>
public sealed class OutboxUnroutableTests(PostgresTestDatabase database, RabbitMqTestVhost vhost) : IClassFixture<PostgresTestDatabase>, IClassFixture<RabbitMqTestVhost>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PublishNoQueueIsBoundTo_StaysPendingIsRetriedAndIsDeliveredOnceAQueueIsBound()
    {
        await WorkerHost.CreateSchemaAsync(database.ConnectionString, Ct);
        var probe = new ConsumerProbe();
        using var dispatcherHost = WorkerHost.Build(
            new WorkerHostSettings { ConnectionString = database.ConnectionString, Broker = vhost.Uri, Queue = "late", Consume = false },
            probe);
        await dispatcherHost.StartAsync(Ct);

        // Nobody consumes OrderPlaced in this vhost yet: the exchange exists (the publish declares it), no queue is bound.
        var run = Guid.NewGuid();
        var ids = await WorkerHost.WriteAsync(dispatcherHost.Services, Enumerable.Range(1, 3).Select(i => new OrderPlaced(run, i)), commit: true, Ct);
        await Eventually.HoldsAsync(
            async () => await CountAsync("dispatched_at IS NULL AND attempts >= 2 AND last_error LIKE '%unroutable%'", ids) == 3,
            Timeout,
            async () => $"{await CountAsync("dispatched_at IS NULL", ids)} pending, {await CountAsync("dispatched_at IS NULL AND attempts >= 2", ids)} retried, last error '{await Db.ScalarAsync<string>(database.ConnectionString, "SELECT last_error FROM workers_outbox WHERE id = ANY(@ids) LIMIT 1", Ct, ("ids", ids.ToArray()))}'",
            Ct);
        Assert.Equal(0, await CountAsync("dispatched_at IS NOT NULL", ids));

        // A consumer starts and binds its queue: the retried rows reach it, each exactly once.
        using var consumerHost = WorkerHost.Build(
            new WorkerHostSettings { ConnectionString = database.ConnectionString, Broker = vhost.Uri, Queue = "late", Dispatch = false },
            probe);
        await consumerHost.StartAsync(Ct);
        await consumerHost.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));
        await Eventually.HoldsAsync(
            async () => (await Db.EffectsAsync(database.ConnectionString, run, Ct)).Count == 3 && await CountAsync("dispatched_at IS NOT NULL", ids) == 3,
            Timeout,
            async () => $"{(await Db.EffectsAsync(database.ConnectionString, run, Ct)).Count} of 3 delivered, {await CountAsync("dispatched_at IS NOT NULL", ids)} marked",
            Ct);
        Assert.All((await Db.EffectsAsync(database.ConnectionString, run, Ct)).Values, count => Assert.Equal(1, count));

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await dispatcherHost.StopAsync(stop.Token);
        await consumerHost.StopAsync(stop.Token);
    }

    [Fact]
    public async Task BusWithPublisherConfirmsOff_DispatcherRefusesToRun_AndNothingIsMarked()
    {
        await WorkerHost.CreateSchemaAsync(database.ConnectionString, Ct);
        using var host = WorkerHost.Build(
            new WorkerHostSettings { ConnectionString = database.ConnectionString, Broker = vhost.Uri, Queue = "noconfirms", Consume = false, PublisherConfirmation = false },
            new ConsumerProbe());
        var run = Guid.NewGuid();
        var ids = await WorkerHost.WriteAsync(host.Services, [new OrderPlaced(run, 1)], commit: true, Ct);
        await host.StartAsync(Ct);

        var dispatcher = host.Services.GetRequiredService<OutboxDispatcher<TestDb>>();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => dispatcher.ExecuteTask!.WaitAsync(Timeout, Ct));
        Assert.Contains("Workers:RabbitMq:PublisherConfirmation is false", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync("dispatched_at IS NOT NULL OR attempts > 0", ids));

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await host.StopAsync(stop.Token);
    }

    private Task<long> CountAsync(string condition, IReadOnlyList<Guid> ids) =>
        Db.CountOutboxAsync(database.ConnectionString, condition, ids, Ct);
}
