using System.Diagnostics;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Workers.Postgres.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Outbox;

/// <summary>The dispatcher against the real PostgreSQL and RabbitMQ (own database, own vhost).</summary>
public sealed class OutboxDispatcherTests(PostgresTestDatabase database, RabbitMqTestVhost vhost) : IClassFixture<PostgresTestDatabase>, IClassFixture<RabbitMqTestVhost>, IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly ConsumerProbe probe = new();
    private readonly List<IHost> hosts = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await WorkerHost.CreateSchemaAsync(database.ConnectionString, Ct);

    public async ValueTask DisposeAsync()
    {
        foreach (var host in hosts)
        {
            await host.StopAsync(CancellationToken.None);
            host.Dispose();
        }
    }

    [Fact]
    public async Task RolledBackTransaction_PublishesNothing_CommittedOnePublishesExactlyItsMessages()
    {
        var run = Guid.NewGuid();
        var host = await StartAsync(new WorkerHostSettings { ConnectionString = database.ConnectionString, Broker = vhost.Uri, Queue = "atomic" });

        var rolledBack = await WorkerHost.WriteAsync(host.Services, Enumerable.Range(100, 3).Select(i => new OrderPlaced(run, i)), commit: false, Ct);
        var committed = await WorkerHost.WriteAsync(host.Services, Enumerable.Range(1, 3).Select(i => new OrderPlaced(run, i, FollowUp: true)), commit: true, Ct);

        await Eventually.HoldsAsync(
            async () => (await Db.EffectsAsync(database.ConnectionString, run, Ct)).Count == 3 && probe.ShippedMessages.Count(s => s.Run == run) == 3
                && await PendingAsync() == 0,
            Timeout,
            async () => $"effects {string.Join(',', (await Db.EffectsAsync(database.ConnectionString, run, Ct)).Keys)}, shipped {probe.ShippedMessages.Count}",
            Ct);

        var effects = await Db.EffectsAsync(database.ConnectionString, run, Ct);
        Assert.Equal([1, 2, 3], effects.Keys.Order());
        Assert.All(effects.Values, count => Assert.Equal(1, count));
        Assert.Equal(0, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM workers_outbox WHERE id = ANY(@ids)", Ct, ("ids", rolledBack.ToArray())));
        Assert.Equal(3, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM workers_inbox WHERE message_id = ANY(@ids)", Ct, ("ids", committed.ToArray())));
        Assert.DoesNotContain(probe.Runs, r => r.Run == run && r.Number >= 100);
        Assert.Equal(0, probe.OutsideTransaction);
    }

    [Fact]
    public async Task TwoDispatchersOnOneTable_NeverPublishTheSameRowTwice()
    {
        var run = Guid.NewGuid();
        var a = await StartAsync(new WorkerHostSettings { ConnectionString = database.ConnectionString, Broker = vhost.Uri, Queue = "pair" });
        await StartAsync(new WorkerHostSettings { ConnectionString = database.ConnectionString, Broker = vhost.Uri, Queue = "pair", Outbox = o => o.BatchSize = 7 });

        var ids = new List<Guid>();
        var writers = Enumerable.Range(0, 10).Select(batch =>
            WorkerHost.WriteAsync(a.Services, Enumerable.Range(batch * 30, 30).Select(i => new OrderPlaced(run, i)), commit: true, Ct));
        foreach (var written in await Task.WhenAll(writers))
        {
            ids.AddRange(written);
        }

        await Eventually.HoldsAsync(
            async () => (await Db.EffectsAsync(database.ConnectionString, run, Ct)).Count == 300,
            Timeout,
            async () => $"{(await Db.EffectsAsync(database.ConnectionString, run, Ct)).Count} of 300 effects",
            Ct);

        Assert.Equal(0, await Db.DuplicatesAsync(database.ConnectionString, ids, Ct));
        Assert.Equal(300, probe.Runs.Count(r => r.Run == run));
        Assert.All((await Db.EffectsAsync(database.ConnectionString, run, Ct)).Values, count => Assert.Equal(1, count));
        Assert.Equal(300, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM workers_outbox WHERE id = ANY(@ids) AND attempts = 1", Ct, ("ids", ids.ToArray())));
    }

    [Fact]
    public async Task DispatcherKilledAfterPublishBeforeMark_DuplicateIsAbsorbedByInbox()
    {
        var run = Guid.NewGuid();
        var published = new TaskCompletionSource<IReadOnlyList<Guid>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var crashed = await StartAsync(new WorkerHostSettings
        {
            ConnectionString = database.ConnectionString,
            Broker = vhost.Uri,
            Queue = "crash",
            Outbox = o => o.LeaseDuration = TimeSpan.FromSeconds(4),
            AfterPublish = async (batch, ct) =>
            {
                published.TrySetResult(batch);
                await Task.Delay(System.Threading.Timeout.Infinite, ct); // "dies" here: published, never marked
            },
        });

        var ids = await WorkerHost.WriteAsync(crashed.Services, Enumerable.Range(1, 20).Select(i => new OrderPlaced(run, i)), commit: true, Ct);
        var batch = await published.Task.WaitAsync(Timeout, Ct);
        await Eventually.HoldsAsync(
            async () => (await Db.EffectsAsync(database.ConnectionString, run, Ct)).Count == batch.Count,
            Timeout,
            async () => $"{(await Db.EffectsAsync(database.ConnectionString, run, Ct)).Count} of {batch.Count} first deliveries",
            Ct);

        // A second replica takes the rows over when the lease ends and publishes them again (same MessageIds).
        await StartAsync(new WorkerHostSettings { ConnectionString = database.ConnectionString, Broker = vhost.Uri, Queue = "crash" });
        await Eventually.HoldsAsync(
            async () => await PendingAsync(ids) == 0 && (await Db.EffectsAsync(database.ConnectionString, run, Ct)).Count == 20
                && await Db.DuplicatesAsync(database.ConnectionString, ids, Ct) >= batch.Count,
            Timeout,
            async () => $"pending {await PendingAsync(ids)}, duplicates {await Db.DuplicatesAsync(database.ConnectionString, ids, Ct)}",
            Ct);

        var effects = await Db.EffectsAsync(database.ConnectionString, run, Ct);
        Assert.Equal(20, effects.Count);
        Assert.All(effects.Values, count => Assert.Equal(1, count)); // effects exactly once
        Assert.Equal(20, probe.Runs.Count(r => r.Run == run)); // the consumer never ran for a duplicate
        Assert.True(await Db.DuplicatesAsync(database.ConnectionString, ids, Ct) >= batch.Count);
    }

    [Fact]
    public async Task SameOrderingKey_IsDeliveredInWriteOrder()
    {
        var run = Guid.NewGuid();
        var host = await StartAsync(new WorkerHostSettings { ConnectionString = database.ConnectionString, Broker = vhost.Uri, Queue = "ordered", ConcurrentMessageLimit = 1 });
        var messages = Enumerable.Range(0, 60).Select(i => new OrderPlaced(run, i, Key: $"k{i % 3}")).ToList();
        foreach (var chunk in messages.Chunk(10))
        {
            await WorkerHost.WriteAsync(host.Services, chunk, commit: true, Ct, sendTo: new Uri("queue:ordered"));
        }

        await Eventually.HoldsAsync(
            async () => (await Db.EffectsAsync(database.ConnectionString, run, Ct)).Count == 60,
            Timeout,
            async () => $"{(await Db.EffectsAsync(database.ConnectionString, run, Ct)).Count} of 60",
            Ct);

        var seen = probe.Runs.Where(r => r.Run == run).ToList();
        foreach (var key in new[] { "k0", "k1", "k2" })
        {
            var numbers = seen.Where(r => r.Key == key).Select(r => r.Number).ToList();
            Assert.Equal(numbers.Order(), numbers);
        }
    }

    [Fact]
    public async Task CommitNotifiesDispatcher_PublishWithinMillisecondsWithoutPolling()
    {
        var run = Guid.NewGuid();
        var host = await StartAsync(new WorkerHostSettings
        {
            ConnectionString = database.ConnectionString,
            Broker = vhost.Uri,
            Queue = "latency",
            Outbox = o => o.PollingInterval = TimeSpan.FromMinutes(5), // only NOTIFY can wake it
        });

        // Warm up (connections, topology), then measure commit -> consumed.
        await WorkerHost.WriteAsync(host.Services, [new OrderPlaced(run, 0)], commit: true, Ct);
        await Eventually.HoldsAsync(async () => (await Db.EffectsAsync(database.ConnectionString, run, Ct)).Count == 1, Timeout, () => Task.FromResult("warm-up"), Ct);

        var latencies = new List<double>();
        for (var i = 1; i <= 5; i++)
        {
            var number = i;
            var consumed = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
            var watch = Stopwatch.StartNew();
            void OnConsumed(OrderPlaced m)
            {
                if (m.Run == run && m.Number == number)
                {
                    consumed.TrySetResult(watch.Elapsed);
                }
            }

            probe.Consumed += OnConsumed;
            await WorkerHost.WriteAsync(host.Services, [new OrderPlaced(run, i)], commit: true, Ct);
            var committedAt = watch.Elapsed;
            var consumedAt = await consumed.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
            probe.Consumed -= OnConsumed;
            latencies.Add((consumedAt - committedAt).TotalMilliseconds);
        }

        var figures = $"commit -> consumed latency ms: {string.Join(", ", latencies.Select(l => l.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))}";
        TestContext.Current.SendDiagnosticMessage(figures);
        TestContext.Current.TestOutputHelper?.WriteLine(figures);
        Assert.True(latencies.Max() < 2000, $"latencies {string.Join(", ", latencies)}");
    }

    private async Task<IHost> StartAsync(WorkerHostSettings settings)
    {
        var host = WorkerHost.Build(settings, probe);
        hosts.Add(host);
        await host.StartAsync(Ct);
        var bus = host.Services.GetRequiredService<IBusControl>();
        if (settings.Consume)
        {
            await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));
        }

        return host;
    }

    private Task<long> PendingAsync() =>
        Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM workers_outbox WHERE dispatched_at IS NULL", Ct);

    private Task<long> PendingAsync(IReadOnlyList<Guid> ids) =>
        Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM workers_outbox WHERE dispatched_at IS NULL AND id = ANY(@ids)", Ct, ("ids", ids.ToArray()));
}
