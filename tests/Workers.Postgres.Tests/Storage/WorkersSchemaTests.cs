using Microsoft.EntityFrameworkCore;
using Workers.Postgres.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Storage;

public sealed class WorkersSchemaTests(PostgresTestDatabase database) : IClassFixture<PostgresTestDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void GenerateScript_FromTheModel_IsIdempotentAndHasTheNotifyTrigger()
    {
        var options = new DbContextOptionsBuilder<TestDb>();
        options.UseWorkersPostgres("Host=unused.invalid;Username=x");
        using var db = new TestDb(options.Options);

        var script = WorkersSchema.GenerateScript(db);

        Assert.Contains("CREATE TABLE IF NOT EXISTS workers_outbox", script, StringComparison.Ordinal);
        Assert.Contains("CREATE TABLE IF NOT EXISTS workers_inbox", script, StringComparison.Ordinal);
        Assert.Contains("CREATE INDEX IF NOT EXISTS ix_workers_outbox_pending", script, StringComparison.Ordinal);
        Assert.DoesNotContain("effects", script, StringComparison.Ordinal); // only the Workers tables
        Assert.DoesNotMatch(@"CREATE (UNIQUE )?(TABLE|INDEX) (?!IF NOT EXISTS)", script);
        Assert.Contains("CREATE OR REPLACE TRIGGER workers_outbox_notify", script, StringComparison.Ordinal);
        Assert.Contains("CREATE OR REPLACE TRIGGER workers_outbox_key_position BEFORE INSERT", script, StringComparison.Ordinal);
        Assert.Contains("CREATE TABLE IF NOT EXISTS \"workers_outbox_keys\"", script, StringComparison.Ordinal);
        Assert.True(
            script.IndexOf("ADD COLUMN IF NOT EXISTS key_position", StringComparison.Ordinal) < script.IndexOf("ix_workers_outbox_key_order", StringComparison.Ordinal),
            "an older table gets key_position before the index that needs it is created");
    }

    [Fact]
    public async Task ApplyAsync_Twice_CreatesTablesAndTriggerOnce()
    {
        await WorkersSchema.ApplyAsync(database.ConnectionString, cancellationToken: Ct);
        await WorkersSchema.ApplyAsync(database.ConnectionString, cancellationToken: Ct);

        Assert.Equal(2, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('workers_outbox', 'workers_inbox')", Ct));
        // Only the trigger of public.workers_outbox: another test of the class applies the schema under its own name.
        Assert.Equal(1, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE t.tgname = 'workers_outbox_notify' AND n.nspname = 'public' AND c.relname = 'workers_outbox'", Ct));
    }

    [Fact]
    public async Task ApplyAsync_ConcurrentReplicas_DoNotRace()
    {
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => WorkersSchema.ApplyAsync(database.ConnectionString, "concurrent", Ct)));

        Assert.Equal(5, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'concurrent' AND table_type = 'BASE TABLE'", Ct)); // outbox, its keys, inbox, failures, failure history
    }

    [Fact]
    public async Task ApplyAsync_OnADatabaseOfTheFirstRelease_AddsTheQuarantineColumnsAndView()
    {
        // The outbox as the first release created it: no dispatch_failures, quarantined_at, quarantine_reason, no view.
        await WorkersSchema.ApplyAsync(database.ConnectionString, "legacy", Ct);
        await Db.ScalarAsync<long>(database.ConnectionString, "DROP VIEW legacy.workers_outbox_quarantine; ALTER TABLE legacy.workers_outbox DROP COLUMN dispatch_failures, DROP COLUMN quarantined_at, DROP COLUMN quarantine_reason; SELECT 0", Ct);
        await Db.ScalarAsync<long>(database.ConnectionString, "INSERT INTO legacy.workers_outbox (id, message_type, body, created_at, attempts) VALUES (gen_random_uuid(), 'T, A', '{}', now(), 2); SELECT 0", Ct);

        await WorkersSchema.ApplyAsync(database.ConnectionString, "legacy", Ct);
        await WorkersSchema.ApplyAsync(database.ConnectionString, "legacy", Ct);

        Assert.Equal(3, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'legacy' AND table_name = 'workers_outbox' AND column_name IN ('dispatch_failures', 'quarantined_at', 'quarantine_reason')", Ct));
        Assert.Equal(0, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT max(dispatch_failures) FROM legacy.workers_outbox WHERE quarantined_at IS NULL", Ct));
        Assert.Equal(0, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM legacy.workers_outbox_quarantine", Ct));
    }

    [Fact]
    public async Task ApplyAsync_OnADatabaseWithoutKeyPositions_AddsThemAndKeepsPendingKeyedRowsFirst()
    {
        // The outbox as the release before 19.3 left it: keys ordered by created_at, no key_position, no key table or trigger.
        await WorkersSchema.ApplyAsync(database.ConnectionString, "prekeys", Ct);
        await Db.ScalarAsync<long>(
            database.ConnectionString,
            """
            DROP TRIGGER workers_outbox_key_position ON prekeys.workers_outbox; DROP TABLE prekeys.workers_outbox_keys;
            DROP INDEX prekeys.ix_workers_outbox_key_order; ALTER TABLE prekeys.workers_outbox DROP COLUMN key_position;
            CREATE INDEX ix_workers_outbox_ordering ON prekeys.workers_outbox (ordering_key, created_at, sequence) WHERE dispatched_at IS NULL AND ordering_key IS NOT NULL;
            INSERT INTO prekeys.workers_outbox (id, message_type, body, ordering_key, created_at, attempts) VALUES ('00000000-0000-0000-0000-000000000001', 'T, A', '{}', 'k', now(), 0);
            SELECT 0
            """,
            Ct);

        await WorkersSchema.ApplyAsync(database.ConnectionString, "prekeys", Ct);
        await WorkersSchema.ApplyAsync(database.ConnectionString, "prekeys", Ct);
        await Db.ScalarAsync<long>(database.ConnectionString, "INSERT INTO prekeys.workers_outbox (id, message_type, body, ordering_key, created_at, attempts) VALUES ('00000000-0000-0000-0000-000000000002', 'T, A', '{}', 'k', now() - interval '1 day', 0); SELECT 0", Ct);

        Assert.Equal(0, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT key_position FROM prekeys.workers_outbox WHERE id = '00000000-0000-0000-0000-000000000001'", Ct));
        Assert.True(await Db.ScalarAsync<long>(database.ConnectionString, "SELECT key_position FROM prekeys.workers_outbox WHERE id = '00000000-0000-0000-0000-000000000002'", Ct) > 0);
        Assert.Equal(0, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'prekeys' AND indexname = 'ix_workers_outbox_ordering'", Ct));
        Assert.Equal(1, await Db.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'prekeys' AND indexname = 'ix_workers_outbox_key_order'", Ct));
    }
}
