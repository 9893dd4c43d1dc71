using System.Diagnostics.Metrics;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Workers.Hosting;
using Workers.Postgres;
using Workers.Postgres.Inbox;
using Workers.Postgres.Storage;
using Workers.Resilience;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Hosting;

/// <summary>
/// The framework's own database is a dependency, not the consumer's failure (issue 19.8): while the inbox cannot
/// reach PostgreSQL, messages are held in the broker — not counted as attempts, never dead-lettered because of the
/// outage — readiness says so, and they flow once the database answers again.
/// </summary>
public sealed class InboxDatabaseOutageTests : IClassFixture<RabbitMqTestVhost>, IClassFixture<PostgresTestDatabase>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private readonly RabbitMqTestVhost vhost;
    private readonly PostgresTestDatabase database;

    public InboxDatabaseOutageTests(RabbitMqTestVhost vhost, PostgresTestDatabase database)
    {
        this.vhost = vhost;
        this.database = database;
    }

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DatabaseUnreachable_MessageIsHeldNotDeadLettered_AndRunsOnceWhenItAnswers()
    {
        var queue = $"inbox-outage-{Guid.NewGuid():N}"[..24];
        await CreateSchemaAsync(database.ConnectionString);
        var target = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        await using var proxy = new TcpProxy(target.Host!, target.Port);
        var proxied = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port, Timeout = 3 }.ConnectionString;

        long held = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == InboxConstants.HeldInstrument)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "consumer" && Equals(tag.Value, queue))
                {
                    Interlocked.Add(ref held, value);
                }
            }
        });
        listener.Start();

        var probe = new OutageProbe();
        using var host = BuildHost(queue, proxied, probe);
        await host.StartAsync(Cancel);
        try
        {
            await vhost.WaitForQueueAsync(queue, q => q.Consumers == 1, Bound, Cancel);
            var health = host.Services.GetRequiredService<HealthCheckService>();

            proxy.Cut();
            var order = new OutageOrder(Guid.NewGuid());
            await host.Services.GetRequiredService<IBus>().Publish(order, Cancel);

            // No redelivery attempts at all on this endpoint: had the outage counted as one, the message would be in
            // <queue>_error now. Instead it is held: back in its queue, the consumer never having run.
            await Eventually.HoldsAsync(
                async () => (await vhost.GetQueueAsync(queue + "_error", Cancel))?.Messages is > 0
                    ? throw new InvalidOperationException("The message was dead-lettered: the database outage was counted as an attempt.")
                    : Interlocked.Read(ref held) >= 2,
                Bound,
                "the message held twice while the database is unreachable",
                Cancel);
            Assert.Equal(0, probe.Runs);
            Assert.Equal(0, (await vhost.GetQueueAsync(queue + "_error", Cancel))?.Messages ?? 0);
            var degraded = await health.CheckHealthAsync(r => r.Name == InboxConstants.HealthCheckName, Cancel);
            Assert.Equal(HealthStatus.Degraded, degraded.Status);

            proxy.Restore();
            await Eventually.HoldsAsync(() => probe.Runs >= 1, Bound, "the held message consumed once the database answers", Cancel);
            await Eventually.HoldsAsync(
                async () => (await health.CheckHealthAsync(r => r.Name == InboxConstants.HealthCheckName, Cancel)).Status == HealthStatus.Healthy,
                Bound,
                "the inbox database check healthy again",
                Cancel);

            Assert.Equal(1, probe.Runs);
            Assert.Equal(0, probe.LastRedeliveryCount);
            Assert.Equal(0, (await vhost.GetQueueAsync(queue + "_error", Cancel))?.Messages ?? 0);
            await using var db = Open(database.ConnectionString);
            Assert.Equal(1, await db.Effects.CountAsync(e => e.OrderId == order.Id, Cancel));
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    private static OutageDb Open(string connectionString)
    {
        var options = new DbContextOptionsBuilder<OutageDb>();
        options.UseWorkersPostgres(connectionString);
        return new OutageDb(options.Options);
    }

    private static async Task CreateSchemaAsync(string connectionString)
    {
        await using var db = Open(connectionString);
        await db.Database.EnsureCreatedAsync(Cancel);
        await WorkersSchema.ApplyAsync(db, Cancel);
    }

    private IHost BuildHost(string queue, string connectionString, OutageProbe probe)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Workers:RabbitMq:Uri"] = vhost.Uri.ToString(),
            ["Workers:Postgres:ConnectionString"] = connectionString,
            [$"Workers:Endpoints:{queue}:Redelivery:MaxRedeliveryAttempts"] = "0",
        });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(probe);
        builder.AddWorkers(w => w.UsePostgres<OutageDb>().AddConsumer<OutageConsumer>(queue));
        return builder.Build();
    }

    public sealed record OutageOrder(Guid Id);

    public sealed class OutageProbe
    {
        private int runs;

        public int Runs => Volatile.Read(ref runs);

        public int LastRedeliveryCount { get; private set; } = -1;

        public void Ran(int redeliveryCount)
        {
            LastRedeliveryCount = redeliveryCount;
            Interlocked.Increment(ref runs);
        }
    }

    public sealed class OutageConsumer(OutageDb db, OutageProbe probe) : IConsumer<OutageOrder>
    {
        public Task Consume(ConsumeContext<OutageOrder> context)
        {
            probe.Ran(context.GetWorkersRedeliveryCount());
            db.Effects.Add(new OutageEffect { OrderId = context.Message.Id });
            return Task.CompletedTask;
        }
    }

    public sealed class OutageDb(DbContextOptions<OutageDb> options) : DbContext(options)
    {
        public DbSet<OutageEffect> Effects => Set<OutageEffect>();

        protected override void OnModelCreating(ModelBuilder modelBuilder)
        {
            modelBuilder.Entity<OutageEffect>(e =>
            {
                e.ToTable("outage_effects");
                e.HasKey(x => x.Id);
            });
            modelBuilder.AddWorkersOutbox().AddWorkersInbox();
        }
    }

    public sealed class OutageEffect
    {
        public long Id { get; set; }

        public Guid OrderId { get; set; }
    }
}
