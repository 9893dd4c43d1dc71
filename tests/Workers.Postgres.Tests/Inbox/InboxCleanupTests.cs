using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Workers.Postgres.Inbox;
using Workers.Postgres.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Inbox;

public sealed class InboxCleanupTests(PostgresTestDatabase database) : IClassFixture<PostgresTestDatabase>
{
    private static readonly DateTimeOffset Now = new(2026, 1, 10, 12, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CleanOnce_DeletesOnlyRowsOlderThanRetention()
    {
        await EmptyInboxAsync();
        var time = new FakeTimeProvider(Now);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<TimeProvider>(time);
        services.AddDbContext<TestDb>(o => o.UseWorkersPostgres(database.ConnectionString));
        services.AddWorkersInbox<TestDb>(o => o.Retention = TimeSpan.FromHours(1));
        await using var provider = services.BuildServiceProvider();
        var old = Guid.NewGuid();
        var recent = Guid.NewGuid();
        await Db.ScalarAsync<int>(
            database.ConnectionString,
            "INSERT INTO workers_inbox (message_id, consumer, received_at, duplicates) VALUES (@old, 'c', @oldAt, 0), (@recent, 'c', @recentAt, 0)",
            Ct,
            ("old", old),
            ("oldAt", time.GetUtcNow().AddHours(-2)),
            ("recent", recent),
            ("recentAt", time.GetUtcNow().AddMinutes(-30)));

        var deleted = await provider.GetRequiredService<InboxCleanupService<TestDb>>().CleanOnceAsync(Ct);

        Assert.Equal(1, deleted);
        Assert.Equal(0, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM workers_inbox WHERE message_id = @id", Ct, ("id", old)));
        Assert.Equal(1, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM workers_inbox WHERE message_id = @id", Ct, ("id", recent)));
    }

    [Fact]
    public async Task CleanOnce_MoreExpiredRowsThanOneBatch_DeletesThemAllInOneRound()
    {
        await EmptyInboxAsync();
        var time = new FakeTimeProvider(Now);
        await using var provider = Build(time, o => o.Retention = TimeSpan.FromHours(1));
        await SeedAsync(5_000, time.GetUtcNow().AddHours(-2));
        await SeedAsync(10, time.GetUtcNow().AddMinutes(-30));

        var deleted = await provider.GetRequiredService<InboxCleanupService<TestDb>>().CleanOnceAsync(Ct);

        Assert.Equal(5_000L, deleted);
        Assert.Equal(0, await CountOlderThanAsync(time.GetUtcNow().AddHours(-1)));
        Assert.Equal(10, await CountAllAsync());
    }

    [Fact]
    public async Task CleanOnce_BoundedByMaxCleanupBatches_TheNextRoundDeletesTheRest()
    {
        await EmptyInboxAsync();
        var time = new FakeTimeProvider(Now);
        await using var provider = Build(time, o =>
        {
            o.Retention = TimeSpan.FromHours(1);
            o.CleanupBatchSize = 400;
            o.MaxCleanupBatches = 3;
        });
        await SeedAsync(2_000, time.GetUtcNow().AddHours(-2));
        var cleanup = provider.GetRequiredService<InboxCleanupService<TestDb>>();

        var first = await cleanup.CleanOnceAsync(Ct);
        var second = await cleanup.CleanOnceAsync(Ct);

        Assert.Equal(1_200L, first);
        Assert.Equal(800L, second);
        Assert.Equal(0, await CountAllAsync());
    }

    private ServiceProvider Build(TimeProvider time, Action<InboxOptions> configure)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(time);
        services.AddDbContext<TestDb>(o => o.UseWorkersPostgres(database.ConnectionString));
        services.AddWorkersInbox<TestDb>(configure);
        return services.BuildServiceProvider();
    }

    private async Task EmptyInboxAsync()
    {
        await WorkerHost.CreateSchemaAsync(database.ConnectionString, Ct);
        await Db.ScalarAsync<int>(database.ConnectionString, "TRUNCATE workers_inbox", Ct);
    }

    private Task<int> SeedAsync(int count, DateTimeOffset receivedAt) =>
        Db.ScalarAsync<int>(
            database.ConnectionString,
            "INSERT INTO workers_inbox (message_id, consumer, received_at, duplicates) SELECT gen_random_uuid(), 'c', @at, 0 FROM generate_series(1, @count)",
            Ct,
            ("at", receivedAt),
            ("count", count));

    private Task<long> CountOlderThanAsync(DateTimeOffset cutoff) =>
        Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM workers_inbox WHERE received_at < @cutoff", Ct, ("cutoff", cutoff));

    private Task<long> CountAllAsync() => Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM workers_inbox", Ct);
}
