using System.Diagnostics;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Workers.Postgres.Outbox;
using Workers.Postgres.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Failover;

/// <summary>
/// The failover drill with an endpoint timeout and a stalled standby (issue 19.2). The standby stops taking WAL, a
/// consumer's commit waits for it until the 2 s endpoint timeout cancels the wait: committed on the primary only,
/// visible there, with its outbox row. The dispatcher must not publish that row (nothing non-durable is dispatched);
/// then the primary dies, the standby — which never had the commit — is promoted, the consumer runs again, stages the
/// same MessageId, and the downstream consumer sees the event exactly once.
/// </summary>
[Collection(ReplicaSetCollection.Name)]
public sealed class StalledStandbyFailoverTests(LocalPostgresReplicaSet cluster, RabbitMqTestVhost vhost) : IClassFixture<LocalPostgresReplicaSet>, IClassFixture<RabbitMqTestVhost>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CommitWhoseStandbyWaitWasCancelled_IsNotDispatched_AfterFailoverExactlyOneDownstreamEffect()
    {
        var total = Stopwatch.StartNew();
        // A command timeout (5 s) above the endpoint timeout (2 s): the consumer's commit wait is cancelled by the
        // endpoint timeout; the dispatcher's claim waits are cancelled by the command timeout, every 5 s, and retried.
        var connection = new NpgsqlConnectionStringBuilder(cluster.ConnectionString) { CommandTimeout = 5 }.ConnectionString;
        var primary = cluster.NodeConnectionString(cluster.PrimaryPort);
        await WorkerHost.CreateSchemaAsync(connection, Ct);
        var probe = new ConsumerProbe();
        using var host = WorkerHost.Build(
            new WorkerHostSettings
            {
                ConnectionString = connection,
                Broker = vhost.Uri,
                Queue = "stall",
                ConcurrentMessageLimit = 1,
                ConsumerTimeout = TimeSpan.FromSeconds(2),
                Outbox = o =>
                {
                    o.LeaseDuration = TimeSpan.FromSeconds(4);
                    o.PublishTimeout = TimeSpan.FromSeconds(2);
                    o.TopologyCheckInterval = TimeSpan.FromMilliseconds(500);
                },
            },
            probe);
        await host.StartAsync(Ct);
        await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));
        var endpoint = await host.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri("queue:stall"));

        // Warm-up with a healthy standby: the whole path works (consume, stage, dispatch, downstream consume).
        var warmUp = Guid.NewGuid();
        await endpoint.Send(new OrderPlaced(warmUp, 1, FollowUp: true), Ct);
        await Eventually.HoldsAsync(() => probe.ShippedMessages.Any(s => s.Run == warmUp), Bound, "warm-up event shipped", Ct);

        // The standby stalls; the consumer's commit waits for it until the endpoint timeout cancels the wait.
        var sender = await cluster.FreezePrimaryWalSenderAsync(Ct);
        var run = Guid.NewGuid();
        var inbound = NewId.NextGuid();
        var staged = OutboxMessageIds.Derive(inbound, "stall", 0);
        await endpoint.Send(new OrderPlaced(run, 1, FollowUp: true), ctx => ctx.MessageId = inbound, Ct);
        await Eventually.HoldsAsync(
            async () => await Db.CountOutboxAsync(primary, "true", [staged], Ct) == 1,
            Bound,
            () => Task.FromResult("the consumer's commit is not visible on the primary"),
            Ct);
        Assert.Single(await Db.EffectsAsync(primary, run, Ct)); // committed locally, visible on the primary

        // The dispatcher sees the row. Its claim waits for the standby; the command timeout cancels that wait too (the
        // claim is then committed locally only) and the dispatcher claims again instead of publishing: wait for the
        // second claim transaction — or for the event downstream, which would be the defect.
        var claims = new HashSet<string>();
        await Eventually.HoldsAsync(
            async () =>
            {
                claims.UnionWith(await PrimaryActivity.ClaimsWaitingForStandbyAsync(primary, Ct));
                return claims.Count >= 2 || probe.ShippedMessages.Any(s => s.Run == run);
            },
            Bound,
            () => Task.FromResult($"claims seen waiting for the standby: {claims.Count}"),
            Ct);
        Assert.DoesNotContain(probe.ShippedMessages, s => s.Run == run); // nothing non-durable was dispatched

        // The primary dies; the standby, which never had the commit, is promoted.
        cluster.KillPrimary();
        await cluster.KillProcessAsync(sender);
        await cluster.PromoteStandbyAsync();
        var promotedAfter = total.Elapsed;

        // The consumer runs again on the new primary, stages the same id, and the event goes out once.
        await Eventually.HoldsAsync(
            async () => probe.ShippedMessages.Any(s => s.Run == run) && await Db.CountOutboxAsync(connection, "dispatched_at IS NOT NULL", [staged], Ct) == 1,
            Bound,
            async () => $"shipped {probe.ShippedMessages.Count(s => s.Run == run)}, dispatched {await Db.CountOutboxAsync(connection, "dispatched_at IS NOT NULL", [staged], Ct)}",
            Ct);
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            await host.StopAsync(stop.Token); // the dispatcher has nothing more to send
        }

        var runs = probe.Runs.Count(r => r.Run == run);
        var figures = $"stalled-standby drill: consumer ran {runs}× for the inbound message, {claims.Count} claim(s) seen waiting for the standby, shipped {probe.ShippedMessages.Count(s => s.Run == run)}, promoted {promotedAfter.TotalSeconds:F1} s into the drill, drill {total.Elapsed.TotalSeconds:F1} s";
        TestContext.Current.TestOutputHelper?.WriteLine(figures);
        TestContext.Current.SendDiagnosticMessage(figures);
        await File.AppendAllTextAsync(Path.Combine(Path.GetTempPath(), "workers-failover-drill.txt"), figures + Environment.NewLine, Ct);

        Assert.True(await cluster.IsPrimaryAsync(cluster.StandbyPort, Ct));
        Assert.Single(probe.ShippedMessages, s => s.Run == run); // exactly one downstream effect
        Assert.Equal(1, (await Db.EffectsAsync(connection, run, Ct)).GetValueOrDefault(1)); // the consumer's effect once, on the new primary
        Assert.True(runs >= 2, $"the consumer ran {runs}×: the lost commit was redone on the new primary");
        Assert.Equal(1, await Db.CountOutboxAsync(connection, "true", [staged], Ct)); // the re-run staged the same MessageId
    }
}
