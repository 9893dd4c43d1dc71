using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Workers.Postgres.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Failover;

/// <summary>
/// The dispatcher publishes only rows the synchronous standby has (issue 19.2), whatever the application's own
/// durability setting: here every session of the worker defaults to <c>synchronous_commit = local</c> (a common
/// throughput tweak), so its commits return before the standby has them.
/// </summary>
[Collection(ReplicaSetCollection.Name)]
public sealed class DurableDispatchTests(LocalPostgresReplicaSet cluster, RabbitMqTestVhost vhost) : IClassFixture<LocalPostgresReplicaSet>, IClassFixture<RabbitMqTestVhost>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SessionsCommittingLocally_RowNotOnTheStandby_IsNotDispatchedUntilItIs()
    {
        var connection = new NpgsqlConnectionStringBuilder(cluster.ConnectionString) { Options = "-c synchronous_commit=local" }.ConnectionString;
        var primary = cluster.NodeConnectionString(cluster.PrimaryPort);
        await WorkerHost.CreateSchemaAsync(connection, Ct);
        var probe = new ConsumerProbe();
        using var host = WorkerHost.Build(new WorkerHostSettings { ConnectionString = connection, Broker = vhost.Uri, Queue = "durable" }, probe);
        await host.StartAsync(Ct);
        await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));
        var warmUp = Guid.NewGuid();
        await WorkerHost.WriteAsync(host.Services, [new OrderPlaced(warmUp, 1)], commit: true, Ct, sendTo: new Uri("queue:durable"));
        await Eventually.HoldsAsync(() => probe.Runs.Any(r => r.Run == warmUp), Bound, "warm-up message consumed", Ct);

        var sender = await cluster.FreezePrimaryWalSenderAsync(Ct);
        var run = Guid.NewGuid();
        try
        {
            // Returns at once (local commit) although the standby has nothing of it.
            await WorkerHost.WriteAsync(host.Services, [new OrderPlaced(run, 1)], commit: true, Ct, sendTo: new Uri("queue:durable"));

            var claims = new HashSet<string>();
            await Eventually.HoldsAsync(
                async () =>
                {
                    claims.UnionWith(await PrimaryActivity.ClaimsWaitingForStandbyAsync(primary, Ct));
                    return claims.Count >= 1 || probe.Runs.Any(r => r.Run == run);
                },
                Bound,
                () => Task.FromResult("no claim seen waiting for the standby, nothing consumed"),
                Ct);
            Assert.DoesNotContain(probe.Runs, r => r.Run == run); // not dispatched while only the primary has it
        }
        finally
        {
            await cluster.ResumeProcessAsync(sender);
        }

        // Once the standby has it, it goes out.
        await Eventually.HoldsAsync(() => probe.Runs.Any(r => r.Run == run), Bound, "message consumed after the standby caught up", Ct);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await host.StopAsync(stop.Token);
    }
}
