using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Workers.Postgres.Inbox;
using Workers.Postgres.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Inbox;

public sealed class InboxCleanupTests(PostgresTestDatabase database) : IClassFixture<PostgresTestDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CleanOnce_DeletesOnlyRowsOlderThanRetention()
    {
        await WorkerHost.CreateSchemaAsync(database.ConnectionString, Ct);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 10, 12, 0, 0, TimeSpan.Zero));
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
}
