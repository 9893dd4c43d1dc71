using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Workers.Postgres.Outbox;
using Workers.Postgres.Storage;
using Workers.Postgres.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Failover;

/// <summary>
/// The split-brain guard is refreshed whichever of the inbox and the outbox runs (issue 12: it used to be checked only
/// by the outbox dispatcher's maintenance loop, so with the inbox alone, or the dispatcher off, it never changed).
/// Two entries of the connection string name the same primary server, so the check sees two primaries: SplitBrain.
/// </summary>
public sealed class TopologyMonitorTests(PostgresTestDatabase database) : IClassFixture<PostgresTestDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task InboxAlone_TwoHostsArePrimary_WritesAreRefused() =>
        await AssertSplitBrainSeenAsync(services => services.AddWorkersInbox<TestDb>());

    [Fact]
    public async Task OutboxWithItsDispatcherOff_TwoHostsArePrimary_WritesAreRefused() =>
        await AssertSplitBrainSeenAsync(services => services
            .AddWorkersOutbox<TestDb>(o => o.EnableDispatcher = false)
            .AddMassTransit(x => x.UsingInMemory())); // the dispatcher's bus (no broker: it does not run)

    private async Task AssertSplitBrainSeenAsync(Action<IServiceCollection> addWorkers)
    {
        var single = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        // The same server twice: both entries answer pg_is_in_recovery() = false.
        var twice = new NpgsqlConnectionStringBuilder(database.ConnectionString)
        {
            Host = $"{single.Host}:{single.Port},{single.Host}:{single.Port}",
            TargetSessionAttributes = "primary",
        }.ConnectionString;

        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddDbContext<TestDb>(o => o.UseWorkersPostgres(twice));
        addWorkers(builder.Services);
        builder.Services.Configure<OutboxOptions>(o => o.TopologyCheckInterval = TimeSpan.FromMilliseconds(200));
        builder.Services.Configure<InboxOptions>(o => o.EnableCleanup = false);
        using var host = builder.Build();
        var topology = host.Services.GetRequiredService<WorkersDatabase<TestDb>>().Topology;
        await host.StartAsync(Ct);
        try
        {
            await Eventually.HoldsAsync(
                () => Task.FromResult(topology.State == TopologyState.SplitBrain),
                TimeSpan.FromSeconds(20),
                () => Task.FromResult($"topology {topology.State}"),
                Ct);
            Assert.False(topology.WritesAllowed);
            Assert.Throws<SplitBrainException>(topology.ThrowIfWritesRefused);
        }
        finally
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await host.StopAsync(stop.Token);
        }
    }
}
