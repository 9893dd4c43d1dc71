using System.Text.Json;
using MassTransit;
using MassTransit.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Workers.Postgres.Outbox;
using Workers.Postgres.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Outbox;

/// <summary>
/// The head of an ordering key follows commit order (a position the database assigns under the key's row lock),
/// not the staging process's clock (own database, own vhost). Both writes commit before any dispatcher runs, so the
/// order seen by the consumer is the dispatcher's choice alone.
/// </summary>
public sealed class OutboxOrderingKeyTests(PostgresTestDatabase database, RabbitMqTestVhost vhost) : IClassFixture<PostgresTestDatabase>, IClassFixture<RabbitMqTestVhost>, IAsyncLifetime
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
    public async Task ReplicaWithClockBehind_CommitsSecond_IsDispatchedSecond()
    {
        var run = Guid.NewGuid();
        var queue = new Uri("queue:keyed-skew");
        var writer = Writer();
        await WorkerHost.WriteAsync(writer.Services, [new OrderPlaced(run, 1, Key: "order-7")], commit: true, Ct, sendTo: queue);

        // Then another replica, whose clock is an hour slow, commits the key's next row (its insert as that replica's
        // outbox makes it: created_at from its own clock; the process-wide monotonic clock of one test process cannot skew).
        var second = new OrderPlaced(run, 2, Key: "order-7");
        await Db.ScalarAsync<long>(
            database.ConnectionString,
            "INSERT INTO workers_outbox (id, message_type, body, destination, ordering_key, created_at, attempts) VALUES (@id, @type, @body, @destination, @key, now() - interval '1 hour', 0); SELECT 0",
            Ct,
            ("id", NewId.NextGuid()),
            ("type", WorkersOutbox<TestDb>.TypeName(typeof(OrderPlaced))),
            ("body", JsonSerializer.Serialize(second, SystemTextJsonMessageSerializer.Options)),
            ("destination", queue.ToString()),
            ("key", "order-7"));

        Assert.Equal([1, 2], await DispatchAndConsumeAsync(run, "keyed-skew", expected: 2));
    }

    [Fact]
    public async Task StagedFirstCommittedSecond_IsDispatchedSecond()
    {
        var run = Guid.NewGuid();
        var queue = new Uri("queue:keyed-late");
        var writer = Writer();

        // Staged first (its created_at is the earlier one), saved and committed only after the second write committed.
        await using var early = writer.Services.CreateAsyncScope();
        var earlyDb = early.ServiceProvider.GetRequiredService<TestDb>();
        early.ServiceProvider.GetRequiredService<IWorkersOutbox>().Send(queue, new OrderPlaced(run, 2, Key: "order-8"), new OutboxMessageOptions { OrderingKey = "order-8" });

        await WorkerHost.WriteAsync(writer.Services, [new OrderPlaced(run, 1, Key: "order-8")], commit: true, Ct, sendTo: queue);
        await earlyDb.SaveChangesAsync(Ct);

        Assert.Equal([1, 2], await DispatchAndConsumeAsync(run, "keyed-late", expected: 2));
    }

    [Fact]
    public async Task SeveralRowsOfOneKeyInOneTransaction_KeepStagingOrder()
    {
        var run = Guid.NewGuid();
        var queue = new Uri("queue:keyed-batch");
        var writer = Writer();
        await WorkerHost.WriteAsync(writer.Services, [new OrderPlaced(run, 1, Key: "order-9")], commit: true, Ct, sendTo: queue);
        await WorkerHost.WriteAsync(writer.Services, Enumerable.Range(2, 20).Select(i => new OrderPlaced(run, i, Key: "order-9")), commit: true, Ct, sendTo: queue);
        await WorkerHost.WriteAsync(writer.Services, [new OrderPlaced(run, 22, Key: "order-9")], commit: true, Ct, sendTo: queue);

        Assert.Equal(Enumerable.Range(1, 22), await DispatchAndConsumeAsync(run, "keyed-batch", expected: 22));
    }

    [Fact]
    public async Task ConcurrentStagingsForOneKey_Serialize_TheLaterCommitGetsTheLargerPosition()
    {
        const string Insert = "INSERT INTO workers_outbox (id, message_type, body, ordering_key, created_at, attempts) VALUES (@id, 't', '{}', @key, now(), 0)";
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        var other = Guid.NewGuid();
        await using var one = await OpenAsync();
        await using var transaction = await one.BeginTransactionAsync(Ct);
        await ExecuteAsync(one, Insert, first, "order-10");

        // A second transaction for the key waits for the first to end; another key does not.
        await using var two = await OpenAsync();
        var twoPid = two.ProcessID;
        var blocked = Task.Run(async () => await ExecuteAsync(two, Insert, second, "order-10"), Ct);
        await using (var three = await OpenAsync())
        {
            await ExecuteAsync(three, Insert, other, "order-11");
        }

        await Eventually.HoldsAsync(
            async () => await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM pg_stat_activity WHERE pid = @pid AND wait_event_type = 'Lock'", Ct, ("pid", twoPid)) == 1,
            Timeout,
            () => Task.FromResult($"the second staging for the key is not waiting for a lock (completed: {blocked.IsCompleted})"),
            Ct);
        Assert.False(blocked.IsCompleted);
        await transaction.CommitAsync(Ct);
        await blocked.WaitAsync(Timeout, Ct);

        var positions = await Db.ScalarAsync<string>(database.ConnectionString, "SELECT string_agg(key_position::text, ',' ORDER BY array_position(@ids, id)) FROM workers_outbox WHERE id = ANY(@ids)", Ct, ("ids", new[] { first, second }));
        var values = positions.Split(',').Select(long.Parse).ToList();
        Assert.True(values[0] > 0 && values[1] > values[0], $"positions {positions}");
    }

    private async Task<Npgsql.NpgsqlConnection> OpenAsync()
    {
        var connection = new Npgsql.NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Ct);
        return connection;
    }

    private static async Task ExecuteAsync(Npgsql.NpgsqlConnection connection, string sql, Guid id, string key)
    {
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("key", key);
        await command.ExecuteNonQueryAsync(Ct);
    }

    /// <summary>A replica that only writes (never started: no dispatcher, no consumer).</summary>
    private IHost Writer()
    {
        var host = WorkerHost.Build(
            new WorkerHostSettings { ConnectionString = database.ConnectionString, Broker = vhost.Uri, Consume = false, Dispatch = false },
            probe);
        hosts.Add(host);
        return host;
    }

    /// <summary>Starts a dispatching, consuming replica (one message at a time) and returns the numbers in consume order.</summary>
    private async Task<IReadOnlyList<int>> DispatchAndConsumeAsync(Guid run, string queue, int expected)
    {
        var host = WorkerHost.Build(
            new WorkerHostSettings { ConnectionString = database.ConnectionString, Broker = vhost.Uri, Queue = queue, ConcurrentMessageLimit = 1 },
            probe);
        hosts.Add(host);
        await host.StartAsync(Ct);
        await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));
        await Eventually.HoldsAsync(
            async () => (await Db.EffectsAsync(database.ConnectionString, run, Ct)).Count == expected,
            Timeout,
            async () => $"{(await Db.EffectsAsync(database.ConnectionString, run, Ct)).Count} of {expected} consumed",
            Ct);
        return probe.Runs.Where(r => r.Run == run).Select(r => r.Number).ToList();
    }
}
