using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Workers.Postgres.Outbox;
using Workers.Postgres.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Outbox;

/// <summary>The dispatcher's purge rounds against the real PostgreSQL (own database; no broker: nothing is published).</summary>
public sealed class OutboxPurgeTests(PostgresTestDatabase database) : IClassFixture<PostgresTestDatabase>, IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 1, 10, 12, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await WorkerHost.CreateSchemaAsync(database.ConnectionString, Ct);
        await Db.ScalarAsync<int>(database.ConnectionString, "TRUNCATE workers_outbox", Ct);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task PurgeOnce_MoreDispatchedRowsThanOneBatch_DeletesThemAllInOneRound()
    {
        var time = new FakeTimeProvider(Now);
        await using var provider = Build(time, o => o.DispatchedRetention = TimeSpan.FromHours(1));
        await SeedAsync(5_000, dispatchedAt: Now.AddHours(-2));
        await SeedAsync(7, dispatchedAt: Now.AddMinutes(-30));
        await SeedAsync(3, dispatchedAt: null);

        var deleted = await provider.GetRequiredService<OutboxDispatcher<TestDb>>().PurgeOnceAsync(Ct);

        Assert.Equal(5_000L, deleted);
        Assert.Equal(7, await CountAsync("dispatched_at IS NOT NULL"));
        Assert.Equal(3, await CountAsync("dispatched_at IS NULL"));
    }

    [Fact]
    public async Task PurgeOnce_BoundedByMaxPurgeBatches_TheNextRoundDeletesTheRest()
    {
        var time = new FakeTimeProvider(Now);
        await using var provider = Build(time, o =>
        {
            o.DispatchedRetention = TimeSpan.FromHours(1);
            o.PurgeBatchSize = 300;
            o.MaxPurgeBatches = 2;
        });
        await SeedAsync(1_000, dispatchedAt: Now.AddHours(-2));
        var dispatcher = provider.GetRequiredService<OutboxDispatcher<TestDb>>();

        var rounds = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            rounds.Add(await dispatcher.PurgeOnceAsync(Ct));
        }

        Assert.Equal([600L, 400L, 0L], rounds);
        Assert.Equal(0, await CountAsync("true"));
    }

    [Fact]
    public async Task PurgeOnce_DeletesTheRowsOfKeysWithNothingPending_KeepsBusyKeys()
    {
        var time = new FakeTimeProvider(Now);
        await using var provider = Build(time, o => o.DispatchedRetention = TimeSpan.FromHours(1));
        const string Insert = "INSERT INTO workers_outbox (id, message_type, body, ordering_key, created_at, attempts, dispatched_at) SELECT gen_random_uuid(), 't', '{}', @key || (g % 50), @created, 1, @dispatched FROM generate_series(1, 200) g";
        await Db.ScalarAsync<int>(database.ConnectionString, Insert + "; SELECT 0", Ct, ("key", "idle-"), ("created", Now.AddMinutes(-10)), ("dispatched", Now.AddMinutes(-5)));
        await Db.ScalarAsync<int>(database.ConnectionString, Insert.Replace("@dispatched", "NULL", StringComparison.Ordinal) + "; SELECT 0", Ct, ("key", "busy-"), ("created", Now.AddMinutes(-10)));
        Assert.Equal(100, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM workers_outbox_keys WHERE ordering_key LIKE 'idle-%' OR ordering_key LIKE 'busy-%'", Ct));

        await provider.GetRequiredService<OutboxDispatcher<TestDb>>().PurgeOnceAsync(Ct);

        Assert.Equal(0, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM workers_outbox_keys WHERE ordering_key LIKE 'idle-%'", Ct));
        Assert.Equal(50, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM workers_outbox_keys WHERE ordering_key LIKE 'busy-%'", Ct));
    }

    private ServiceProvider Build(TimeProvider time, Action<OutboxOptions> configure)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(time);
        services.AddDbContext<TestDb>(o => o.UseWorkersPostgres(database.ConnectionString));
        services.AddWorkersOutbox<TestDb>(configure);
        services.AddMassTransit(x => x.UsingInMemory());
        return services.BuildServiceProvider();
    }

    private Task<int> SeedAsync(int count, DateTimeOffset? dispatchedAt) =>
        Db.ScalarAsync<int>(
            database.ConnectionString,
            "INSERT INTO workers_outbox (id, message_type, body, created_at, attempts, dispatched_at) SELECT gen_random_uuid(), 't', '{}', @created, 1, @dispatched FROM generate_series(1, @count)",
            Ct,
            ("created", Now.AddHours(-3)),
            ("dispatched", (object?)dispatchedAt ?? DBNull.Value),
            ("count", count));

    private Task<long> CountAsync(string condition) =>
        Db.ScalarAsync<long>(database.ConnectionString, $"SELECT count(*) FROM workers_outbox WHERE {condition}", Ct);
}
