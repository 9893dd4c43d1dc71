using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Workers.Hosting;
using Workers.Postgres;
using Workers.Postgres.Outbox;
using Workers.Postgres.Storage;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Hosting;

/// <summary>
/// Issue 18: <c>UsePostgres</c> on a DbContext the app registers itself (<c>AddDbContextPool</c> with its own
/// <c>UseNpgsql</c>, as Aspire's <c>AddNpgsqlDbContext</c> does, plus <c>UseWorkersPostgres()</c>), and the consumer's
/// own <c>context.Publish</c> routed into the outbox (<c>Workers:Inbox:PublishThroughOutbox</c>). Real RabbitMQ and
/// PostgreSQL, a vhost and a database of their own.
/// </summary>
public sealed class AppRegisteredDbContextTests : IClassFixture<RabbitMqTestVhost>, IClassFixture<PostgresTestDatabase>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private const string UnusedWorkersDatabase = "Host=workers-db.invalid;Port=5432;Username=unused;Database=unused;Timeout=1";
    private readonly RabbitMqTestVhost vhost;
    private readonly PostgresTestDatabase database;

    public AppRegisteredDbContextTests(RabbitMqTestVhost vhost, PostgresTestDatabase database)
    {
        this.vhost = vhost;
        this.database = database;
    }

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AppRegistersItsPooledContext_MessageRunsThroughInboxAndOutbox_EffectOnceEventDispatched(bool appFirst)
    {
        var queue = $"app-ctx-{Guid.NewGuid():N}"[..20];
        await CreateSchemaAsync();
        var probe = new Probe();
        using var duplicates = new DuplicateCounter(queue);
        using var host = BuildHost(queue, probe, appFirst, o => o.UseNpgsql(database.ConnectionString).UseWorkersPostgres());
        await host.StartAsync(Cancel);
        try
        {
            await vhost.WaitForQueueAsync(queue, q => q.Consumers == 1, Bound, Cancel);
            await vhost.WaitForQueueAsync(queue + "-events", q => q.Consumers == 1, Bound, Cancel);
            var order = new PlaceAppOrder(Guid.NewGuid(), Outbox: true);
            var messageId = NewId.NextGuid();
            var bus = host.Services.GetRequiredService<IBus>();
            await bus.Publish(order, c => c.MessageId = messageId, Cancel);
            await bus.Publish(order, c => c.MessageId = messageId, Cancel); // the same message again: absorbed by the inbox

            var placed = await probe.Placed(order.Id).WaitAsync(Bound, Cancel);
            await Eventually.HoldsAsync(() => duplicates.Count >= 1, Bound, "the second copy absorbed as a duplicate", Cancel);

            Assert.Equal(1, probe.Runs(order.Id));
            Assert.Equal(1, await CountEffectsAsync(order.Id));
            var staged = Assert.Single(await OutboxIdsAsync(order.Id));
            Assert.Equal(staged, placed.MessageId); // dispatched from the app's database, by the row's id
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task ContextPublish_WithPublishThroughOutbox_IsStagedInTheInboxTransaction_FailedAttemptStagesNothing()
    {
        var queue = $"ctx-pub-{Guid.NewGuid():N}"[..20];
        await CreateSchemaAsync();
        var probe = new Probe { FailFirstAttempt = true };
        using var duplicates = new DuplicateCounter(queue);
        using var host = BuildHost(queue, probe, appFirst: true, o => o.UseNpgsql(database.ConnectionString).UseWorkersPostgres(), new()
        {
            ["Workers:Inbox:PublishThroughOutbox"] = "true",
            [$"Workers:Endpoints:{queue}:Redelivery:ImmediateRetries"] = "1",
        });
        await host.StartAsync(Cancel);
        try
        {
            await vhost.WaitForQueueAsync(queue, q => q.Consumers == 1, Bound, Cancel);
            await vhost.WaitForQueueAsync(queue + "-events", q => q.Consumers == 1, Bound, Cancel);
            var order = new PlaceAppOrder(Guid.NewGuid(), Outbox: false);
            var messageId = NewId.NextGuid();
            var conversationId = NewId.NextGuid();
            var bus = host.Services.GetRequiredService<IBus>();
            await bus.Publish(order, c => { c.MessageId = messageId; c.ConversationId = conversationId; }, Cancel);

            var placed = await probe.Placed(order.Id).WaitAsync(Bound, Cancel);
            await bus.Publish(order, c => c.MessageId = messageId, Cancel); // a duplicate runs nothing and stages nothing
            await Eventually.HoldsAsync(() => duplicates.Count >= 1, Bound, "the second copy absorbed as a duplicate", Cancel);

            Assert.Equal(2, probe.Runs(order.Id)); // the failed attempt (which published before throwing), then the one that committed
            Assert.Equal(1, await CountEffectsAsync(order.Id));
            var staged = Assert.Single(await OutboxIdsAsync(order.Id)); // in the outbox, not straight to the broker; the failed attempt's publish is gone
            Assert.Equal(OutboxMessageIds.Derive(messageId, queue, 0), staged); // the inbox's deterministic id
            Assert.Equal(staged, placed.MessageId);
            Assert.Equal(conversationId, placed.ConversationId);
            Assert.Equal(messageId, placed.InitiatorId);
            Assert.Equal(order.Id, placed.CorrelationId);
            Assert.Equal("t-1", placed.Tenant);
            Assert.Equal(1, probe.Deliveries(order.Id));
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AppContextWithoutWorkersConfiguration_IsRefusedAtStart_WithAClearMessage(bool appFirst)
    {
        using var host = BuildHost("refused", new Probe(), appFirst, o => o.UseNpgsql(database.ConnectionString, n => n.EnableRetryOnFailure()));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Cancel));

        Assert.Contains("Workers' outbox and inbox on AppDb need its failover-aware configuration, which the registered AppDb lacks", error.Message, StringComparison.Ordinal);
        Assert.Contains("Workers' execution strategy", error.Message, StringComparison.Ordinal);
        Assert.Contains("the durable-commit interceptor", error.Message, StringComparison.Ordinal);
        Assert.Contains(".UseWorkersPostgres()", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(database.Name, error.Message, StringComparison.Ordinal); // no connection string in errors
    }

    private IHost BuildHost(string queue, Probe probe, bool appFirst, Action<DbContextOptionsBuilder> configure, Dictionary<string, string?>? settings = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Testing" });
        var values = new Dictionary<string, string?>
        {
            ["Workers:RabbitMq:Uri"] = vhost.Uri.ToString(),
            ["Workers:Postgres:ConnectionString"] = UnusedWorkersDatabase, // the app's context must not use it
            [$"Workers:Endpoints:{queue}:Redelivery:MaxRedeliveryAttempts"] = "0",
        };
        foreach (var (key, value) in settings ?? [])
        {
            values[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(values);
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(probe);
        if (appFirst)
        {
            builder.Services.AddDbContextPool<AppDb>(configure);
        }

        builder.AddWorkers(w => w.UsePostgres<AppDb>()
            .AddConsumer<PlaceAppOrderConsumer>(queue)
            .AddConsumer<AppOrderPlacedConsumer>(queue + "-events"));
        if (!appFirst)
        {
            builder.Services.AddDbContextPool<AppDb>(configure);
        }

        return builder.Build();
    }

    private AppDb Open()
    {
        var options = new DbContextOptionsBuilder<AppDb>();
        options.UseWorkersPostgres(database.ConnectionString);
        return new AppDb(options.Options);
    }

    private async Task CreateSchemaAsync()
    {
        await using var db = Open();
        await db.Database.EnsureCreatedAsync(Cancel);
        await WorkersSchema.ApplyAsync(db, Cancel);
    }

    private async Task<int> CountEffectsAsync(Guid orderId)
    {
        await using var db = Open();
        return await db.Effects.CountAsync(e => e.OrderId == orderId, Cancel);
    }

    private async Task<List<Guid>> OutboxIdsAsync(Guid orderId)
    {
        await using var db = Open();
        var marker = orderId.ToString("D");
        return await db.Set<OutboxMessage>().Where(m => m.Body.Contains(marker)).Select(m => m.Id).ToListAsync(Cancel);
    }

    public sealed record PlaceAppOrder(Guid Id, bool Outbox);

    public sealed record AppOrderPlaced(Guid OrderId) : CorrelatedBy<Guid>
    {
        public Guid CorrelationId => OrderId;
    }

    public sealed record Placed(Guid? MessageId, Guid? ConversationId, Guid? InitiatorId, Guid? CorrelationId, string? Tenant);

    public sealed class Probe
    {
        private readonly ConcurrentDictionary<Guid, int> runs = new();
        private readonly ConcurrentDictionary<Guid, int> deliveries = new();
        private readonly ConcurrentDictionary<Guid, TaskCompletionSource<Placed>> placed = new();

        public bool FailFirstAttempt { get; init; }

        public int Runs(Guid id) => runs.GetValueOrDefault(id);

        public int Deliveries(Guid id) => deliveries.GetValueOrDefault(id);

        public Task<Placed> Placed(Guid id) => Source(id).Task;

        public int Ran(Guid id) => runs.AddOrUpdate(id, 1, (_, n) => n + 1);

        public void Delivered(Guid id, Placed what)
        {
            deliveries.AddOrUpdate(id, 1, (_, n) => n + 1);
            Source(id).TrySetResult(what);
        }

        private TaskCompletionSource<Placed> Source(Guid id) => placed.GetOrAdd(id, _ => new TaskCompletionSource<Placed>(TaskCreationOptions.RunContinuationsAsynchronously));
    }

    /// <summary>Stages the event through <see cref="IWorkersOutbox"/> or, routed by the inbox, through <c>context.Publish</c>.</summary>
    public sealed class PlaceAppOrderConsumer(AppDb db, IWorkersOutbox outbox, Probe probe) : IConsumer<PlaceAppOrder>
    {
        public async Task Consume(ConsumeContext<PlaceAppOrder> context)
        {
            var run = probe.Ran(context.Message.Id);
            db.Effects.Add(new AppEffect { OrderId = context.Message.Id });
            if (context.Message.Outbox)
            {
                outbox.Publish(new AppOrderPlaced(context.Message.Id));
            }
            else
            {
                await context.Publish(new AppOrderPlaced(context.Message.Id), c => c.Headers.Set("tenant", "t-1"));
            }

            if (probe.FailFirstAttempt && run == 1)
            {
                throw new InvalidOperationException("first attempt fails after publishing");
            }
        }
    }

    public sealed class AppOrderPlacedConsumer(Probe probe) : IConsumer<AppOrderPlaced>
    {
        public Task Consume(ConsumeContext<AppOrderPlaced> context)
        {
            probe.Delivered(context.Message.OrderId, new Placed(context.MessageId, context.ConversationId, context.InitiatorId, context.CorrelationId, context.Headers.Get<string>("tenant")));
            return Task.CompletedTask;
        }
    }

    /// <summary>Duplicates the inbox absorbed on one endpoint (<c>workers.inbox.duplicates</c>).</summary>
    private sealed class DuplicateCounter : IDisposable
    {
        private readonly MeterListener listener = new();
        private long count;

        public DuplicateCounter(string queue)
        {
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Name == "workers.inbox.duplicates")
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
                        Interlocked.Add(ref count, value);
                    }
                }
            });
            listener.Start();
        }

        public long Count => Interlocked.Read(ref count);

        public void Dispose() => listener.Dispose();
    }

    public sealed class AppDb(DbContextOptions<AppDb> options) : DbContext(options)
    {
        public DbSet<AppEffect> Effects => Set<AppEffect>();

        protected override void OnModelCreating(ModelBuilder modelBuilder)
        {
            modelBuilder.Entity<AppEffect>(e =>
            {
                e.ToTable("app_effects");
                e.HasKey(x => x.Id);
            });
            modelBuilder.AddWorkersOutbox().AddWorkersInbox();
        }
    }

    public sealed class AppEffect
    {
        public long Id { get; set; }

        public Guid OrderId { get; set; }
    }
}
