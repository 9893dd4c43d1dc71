using System.Text;
using Npgsql;
using Workers.Postgres.FailureStore;
using Workers.Postgres.Tests.Support;
using Workers.Resilience;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.FailureStore;

public sealed class FailureStoreWriterTests(PostgresTestDatabase database) : IClassFixture<PostgresTestDatabase>
{
    private static readonly DateTimeOffset Now = new(2026, 12, 3, 10, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task InsertAsync_SameDeliveriesTwice_StoredOnce()
    {
        var schema = await SchemaAsync("twice");
        await using var source = NpgsqlDataSource.Create(database.ConnectionString);
        var writer = new FailureStoreWriter(source, schema);
        var batch = Enumerable.Range(0, 50).Select(i => Record("orders_error", $"m-{i}", "System.TimeoutException", "v1", Now.AddSeconds(i))).ToList();

        var first = await writer.InsertAsync(batch, Ct);
        var again = await writer.InsertAsync(batch.Take(30).Concat([Record("orders_error", "m-new", "System.TimeoutException", "v1", Now)]).ToList(), Ct);

        Assert.Equal(50, first);
        Assert.Equal(1, again);
        Assert.Equal(51, await Db.ScalarAsync<long>(database.ConnectionString, $"SELECT count(*) FROM {schema}.workers_failures", Ct));
        Assert.Equal(FailureStatus.Unresolved, await Db.ScalarAsync<string>(database.ConnectionString, $"SELECT DISTINCT status FROM {schema}.workers_failures", Ct));
    }

    [Fact]
    public async Task InsertAsync_TheSameMessageFailingAgainLater_IsAnotherFailure()
    {
        var schema = await SchemaAsync("again");
        await using var source = NpgsqlDataSource.Create(database.ConnectionString);
        var writer = new FailureStoreWriter(source, schema);

        await writer.InsertAsync([Record("orders_error", "m-1", "E", "v1", Now)], Ct);
        var inserted = await writer.InsertAsync([Record("orders_error", "m-1", "E", "v1", Now.AddHours(1)), Record("orders_skipped", "m-1", null, "v1", null)], Ct);

        Assert.Equal(2, inserted);
    }

    [Fact]
    public async Task InsertAsync_HeadersWithNulCharactersAndBinaryBody_Stored()
    {
        var schema = await SchemaAsync("nul");
        await using var source = NpgsqlDataSource.Create(database.ConnectionString);
        var writer = new FailureStoreWriter(source, schema);
        var headers = new Dictionary<string, object?>
        {
            ["x-evil\0"] = Encoding.UTF8.GetBytes("a\0b"),
            [WorkersHeaders.FaultMessage] = Encoding.UTF8.GetBytes("boom\0"),
            ["nested"] = new Dictionary<string, object?> { ["n"] = 3L, ["list"] = new List<object?> { Encoding.UTF8.GetBytes("x"), true } },
        };
        byte[] body = [0, 255, 1, 2];

        await writer.InsertAsync([DeadLetterRecord.From("orders_error", "m-bin", headers, body, Now)], Ct);

        Assert.Equal("boom\uFFFD", await Db.ScalarAsync<string>(database.ConnectionString, $"SELECT exception_message FROM {schema}.workers_failures", Ct));
        Assert.Equal(3, await Db.ScalarAsync<long>(database.ConnectionString, $"SELECT (headers->'nested'->>'n')::bigint FROM {schema}.workers_failures", Ct));
        Assert.Equal(4, await Db.ScalarAsync<long>(database.ConnectionString, $"SELECT length(body) FROM {schema}.workers_failures", Ct));
    }

    [Fact]
    public async Task ReadAsync_GroupsByFingerprint_CountsAndNewSinceVersion()
    {
        var schema = await SchemaAsync("groups");
        await using var source = NpgsqlDataSource.Create(database.ConnectionString);
        var writer = new FailureStoreWriter(source, schema);
        var old = Enumerable.Range(0, 5).Select(i => Record("orders_error", $"t-{i}", "System.TimeoutException", "1.0.0", Now.AddMinutes(i)));
        var fresh = Enumerable.Range(0, 3).Select(i => Record("orders_error", $"n-{i}", "System.NullReferenceException", "1.1.0", Now.AddHours(1).AddMinutes(i)));
        var timeoutsOnNew = Enumerable.Range(0, 2).Select(i => Record("orders_error", $"t2-{i}", "System.TimeoutException", "1.1.0", Now.AddHours(2)));
        await writer.InsertAsync([.. old, .. fresh, .. timeoutsOnNew], Ct);
        await using var connection = await source.OpenConnectionAsync(Ct);

        var all = await WorkersFailureStore.ReadGroupsAsync(connection, new FailureGroupQuery([FailureStatus.Unresolved]), schema, Ct);
        var newSince = await WorkersFailureStore.ReadGroupsAsync(connection, new FailureGroupQuery([FailureStatus.Unresolved], NewSinceVersion: "1.1.0"), schema, Ct);

        Assert.Equal([7L, 3L], all.Select(g => g.Count));
        Assert.Equal("System.TimeoutException", all[0].ExceptionType);
        Assert.Equal("1.0.0", all[0].FirstSeenVersion);
        Assert.Equal(Now, all[0].FirstSeen);
        Assert.Equal(Now.AddHours(2), all[0].LastSeen);
        Assert.Equal("orders", all[0].Queue);
        Assert.Equal("System.NullReferenceException", Assert.Single(newSince).ExceptionType);
        Assert.True(await WorkersFailureStore.ExistsAsync(connection, schema, Ct));
        Assert.False(await WorkersFailureStore.ExistsAsync(connection, "nowhere", Ct));
    }

    private async Task<string> SchemaAsync(string name)
    {
        await WorkersSchema.ApplyAsync(database.ConnectionString, name, Ct);
        return name;
    }

    private static FailedMessage Record(string deadLetterQueue, string id, string? exceptionType, string version, DateTimeOffset? failed)
    {
        var headers = new Dictionary<string, object?>
        {
            [WorkersHeaders.FaultConsumer] = Encoding.UTF8.GetBytes("Acme.Orders.PlaceOrderConsumer"),
            [WorkersHeaders.FaultHostVersion] = Encoding.UTF8.GetBytes(version),
            [WorkersHeaders.FaultQueue] = Encoding.UTF8.GetBytes("somewhere-else"),
        };
        if (exceptionType is not null)
        {
            headers[WorkersHeaders.FaultExceptionType] = Encoding.UTF8.GetBytes(exceptionType);
        }

        if (failed is { } time)
        {
            headers[WorkersHeaders.FaultLastFailure] = Encoding.UTF8.GetBytes(time.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        }

        return DeadLetterRecord.From(deadLetterQueue, id, headers, "{}"u8.ToArray(), Now);
    }
}
