using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Workers.Postgres.Outbox;
using Workers.Postgres.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Outbox;

/// <summary>A consume that runs again for the same inbound message stages the same outbox ids (own database, own vhost).</summary>
public sealed class OutboxDeterministicIdsTests(PostgresTestDatabase database, RabbitMqTestVhost vhost) : IClassFixture<PostgresTestDatabase>, IClassFixture<RabbitMqTestVhost>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SameInboundMessageConsumedTwice_StagesTheSameOutboxIds()
    {
        await WorkerHost.CreateSchemaAsync(database.ConnectionString, Ct);
        using var host = WorkerHost.Build(
            new WorkerHostSettings { ConnectionString = database.ConnectionString, Broker = vhost.Uri, Queue = "derived", Dispatch = false },
            new ConsumerProbe());
        await host.StartAsync(Ct);
        await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));
        var run = Guid.NewGuid();
        var inbound = Guid.NewGuid();

        var first = await ConsumeAsync(host, run, inbound);

        // As after a failover whose standby never received the first commit: its inbox and outbox rows are gone.
        await Db.ScalarAsync<long>(database.ConnectionString, "DELETE FROM workers_inbox WHERE message_id = @id; DELETE FROM workers_outbox WHERE id = @staged; DELETE FROM effects WHERE run = @run; SELECT 0", Ct, ("id", inbound), ("staged", first), ("run", run));
        var second = await ConsumeAsync(host, run, inbound);

        Assert.Equal(first, second);
        Assert.Equal(OutboxMessageIds.Derive(inbound, "derived", 0), first);

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await host.StopAsync(stop.Token);
    }

    /// <summary>Sends OrderPlaced (with a follow-up) under <paramref name="inbound"/>; returns the id of the OrderShipped row its consumer staged.</summary>
    private async Task<Guid> ConsumeAsync(IHost host, Guid run, Guid inbound)
    {
        var endpoint = await host.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri("queue:derived"));
        await endpoint.Send(new OrderPlaced(run, 1, FollowUp: true), ctx => ctx.MessageId = inbound, Ct);
        await Eventually.HoldsAsync(
            async () => await StagedAsync(run) == 1,
            Timeout,
            async () => $"{await StagedAsync(run)} staged follow-up(s)",
            Ct);
        return await Db.ScalarAsync<Guid>(database.ConnectionString, "SELECT id FROM workers_outbox WHERE body LIKE '%' || @run || '%'", Ct, ("run", run.ToString()));
    }

    private Task<long> StagedAsync(Guid run) =>
        Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM workers_outbox WHERE body LIKE '%' || @run || '%'", Ct, ("run", run.ToString()));
}
