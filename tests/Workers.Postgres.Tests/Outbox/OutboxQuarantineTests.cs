using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Workers.Postgres.Outbox;
using Workers.Postgres.Storage;
using Workers.Postgres.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Outbox;

/// <summary>Poison rows are quarantined after MaxDispatchAttempts; readiness recovers (own database, own vhost).</summary>
public sealed class OutboxQuarantineTests(PostgresTestDatabase database, RabbitMqTestVhost vhost) : IClassFixture<PostgresTestDatabase>, IClassFixture<RabbitMqTestVhost>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan LagThreshold = TimeSpan.FromSeconds(2);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PoisonRows_AreQuarantinedAfterMaxAttempts_TheirKeyStaysHeld_OtherRowsFlow_ReadinessRecovers()
    {
        await WorkerHost.CreateSchemaAsync(database.ConnectionString, Ct);
        var probe = new ConsumerProbe();
        using var host = WorkerHost.Build(
            new WorkerHostSettings
            {
                ConnectionString = database.ConnectionString,
                Broker = vhost.Uri,
                Queue = "poison",
                Outbox = o =>
                {
                    o.MaxDispatchAttempts = 3;
                    o.LagDegradedThreshold = LagThreshold;
                    o.MaintenanceInterval = TimeSpan.FromMilliseconds(200);
                },
            },
            probe);
        await host.StartAsync(Ct);
        await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));

        // A type renamed away (head of key "k-poison") and an unreadable body (no key), then healthy rows behind and beside them.
        var run = Guid.NewGuid();
        var renamed = Guid.NewGuid();
        var unreadable = Guid.NewGuid();
        await InsertRawAsync(renamed, "Orders.Contracts.OrderPlacedV0, Orders.Contracts", "{}", "k-poison");
        await InsertRawAsync(unreadable, WorkersOutbox<TestDb>.TypeName(typeof(OrderPlaced)), "{not json", null);
        var held = await WorkerHost.WriteAsync(host.Services, Enumerable.Range(1, 3).Select(i => new OrderPlaced(run, i, Key: "k-poison")), commit: true, Ct);
        await WorkerHost.WriteAsync(host.Services, Enumerable.Range(11, 3).Select(i => new OrderPlaced(run, i, Key: "k-ok")).Append(new OrderPlaced(run, 21)), commit: true, Ct);
        var writtenAt = DateTimeOffset.UtcNow;

        await Eventually.HoldsAsync(
            async () => await CountAsync("quarantined_at IS NOT NULL AND dispatch_failures = 3 AND dispatched_at IS NULL", [renamed, unreadable]) == 2,
            Timeout,
            async () => $"dispatch_failures {await Db.ScalarAsync<string>(database.ConnectionString, "SELECT string_agg(dispatch_failures::text, ',') FROM workers_outbox WHERE id = ANY(@ids)", Ct, ("ids", new[] { renamed, unreadable }))}",
            Ct);
        Assert.Contains("Unknown message type", await ReasonAsync(renamed), StringComparison.Ordinal);
        Assert.Contains("JsonException", await ReasonAsync(unreadable), StringComparison.Ordinal);

        // Other keys and unkeyed rows flow; the quarantined row's key stays held (never dispatched out of order).
        await Eventually.HoldsAsync(
            async () => (await Db.EffectsAsync(database.ConnectionString, run, Ct)).Keys.Order().SequenceEqual([11, 12, 13, 21]),
            Timeout,
            async () => $"effects {string.Join(',', (await Db.EffectsAsync(database.ConnectionString, run, Ct)).Keys.Order())}",
            Ct);
        Assert.Equal(3, await CountAsync("dispatched_at IS NULL AND quarantined_at IS NULL AND attempts = 0", held));

        // Readiness: the quarantined and held rows are older than the lag threshold, yet the check is healthy and says why.
        var backlog = host.Services.GetRequiredService<WorkersDatabase<TestDb>>().Backlog;
        await Eventually.HoldsAsync(
            () => Task.FromResult(backlog.Snapshot is { Quarantined: 2, Held: 3 } s && s.MeasuredAt > writtenAt + LagThreshold + TimeSpan.FromSeconds(1)),
            Timeout,
            () => Task.FromResult($"snapshot {backlog.Snapshot}"),
            Ct);
        var health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(r => r.Name == "workers-outbox", Ct);
        var entry = health.Entries["workers-outbox"];
        Assert.Equal(HealthStatus.Healthy, entry.Status);
        Assert.Equal(2L, entry.Data["quarantined"]);
        Assert.Equal(3L, entry.Data["held"]);
        Assert.Contains("2 quarantined", entry.Description, StringComparison.Ordinal);

        // The operators' view lists both, with what each holds back.
        Assert.Equal(3, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT held_rows FROM workers_outbox_quarantine WHERE id = @id", Ct, ("id", renamed)));
        Assert.Equal(2, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM workers_outbox_quarantine WHERE id = ANY(@ids)", Ct, ("ids", new[] { renamed, unreadable })));

        // Deleting the quarantined head releases its key, in order.
        await Db.ScalarAsync<long>(database.ConnectionString, "WITH d AS (DELETE FROM workers_outbox WHERE id = @id RETURNING 1) SELECT count(*) FROM d", Ct, ("id", renamed));
        await Eventually.HoldsAsync(
            async () => (await Db.EffectsAsync(database.ConnectionString, run, Ct)).Count == 7,
            Timeout,
            async () => $"effects {string.Join(',', (await Db.EffectsAsync(database.ConnectionString, run, Ct)).Keys.Order())}",
            Ct);
        // In key order: each row was dispatched (confirmed) only after the one before it. The dispatch order, not the
        // consume order — the consumer runs up to 16 messages at once, so two consecutive ones may finish either way.
        var poisonKey = await Db.ScalarAsync<string>(database.ConnectionString, "SELECT string_agg(body::jsonb->>'number', ',' ORDER BY dispatched_at) FROM workers_outbox WHERE ordering_key = 'k-poison' AND dispatched_at IS NOT NULL", Ct);
        Assert.Equal("1,2,3", poisonKey);
        Assert.Equal([1, 2, 3], probe.Runs.Where(r => r.Run == run && r.Key == "k-poison").Select(r => r.Number).Order());

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await host.StopAsync(stop.Token);
    }

    private Task InsertRawAsync(Guid id, string type, string body, string? key) =>
        Db.ScalarAsync<long>(
            database.ConnectionString,
            "WITH i AS (INSERT INTO workers_outbox (id, message_type, body, ordering_key, created_at, attempts) VALUES (@id, @type, @body, @key, now(), 0) RETURNING 1) SELECT count(*) FROM i",
            Ct,
            ("id", id),
            ("type", type),
            ("body", body),
            ("key", (object?)key ?? DBNull.Value));

    private Task<string> ReasonAsync(Guid id) =>
        Db.ScalarAsync<string>(database.ConnectionString, "SELECT quarantine_reason FROM workers_outbox WHERE id = @id", Ct, ("id", id));

    private Task<long> CountAsync(string condition, IReadOnlyList<Guid> ids) =>
        Db.CountOutboxAsync(database.ConnectionString, condition, ids, Ct);
}
