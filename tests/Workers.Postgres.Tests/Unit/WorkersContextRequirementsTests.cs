using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Workers.Postgres.Storage;
using Workers.Postgres.Tests.Support;
using Xunit;

namespace Workers.Postgres.Tests.Unit;

/// <summary>What the outbox and inbox need from the app's context, checked without a database (no connection is opened).</summary>
public sealed class WorkersContextRequirementsTests
{
    private const string ConnectionString = "Host=db.invalid;Username=app;Database=app";

    [Fact]
    public void UseWorkersPostgresWithConnectionString_HasEverything()
    {
        using var db = Build(o => o.UseWorkersPostgres(ConnectionString));

        Assert.Empty(WorkersContextRequirements.Missing(db));
    }

    [Fact]
    public void AppsUseNpgsqlThenUseWorkersPostgres_HasEverything_AndKeepsTheAppsSettings()
    {
        using var db = Build(o => o.UseNpgsql(ConnectionString, n => n.CommandTimeout(9)).UseWorkersPostgres());

        Assert.Empty(WorkersContextRequirements.Missing(db));
        Assert.Equal(ConnectionString, db.Database.GetConnectionString());
        Assert.Equal(9, db.Database.GetCommandTimeout());
    }

    [Fact]
    public void BothOverloadsOnOneBuilder_AddTheInterceptorOnce()
    {
        using var db = Build(o => o.UseWorkersPostgres(ConnectionString).UseWorkersPostgres());

        var interceptors = db.GetService<IDbContextOptions>().FindExtension<CoreOptionsExtension>()?.Interceptors;
        Assert.Same(DurableCommitInterceptor.Instance, Assert.Single(interceptors!));
    }

    [Fact]
    public void PlainUseNpgsql_LacksTheStrategyAndTheInterceptor()
    {
        using var db = Build(o => o.UseNpgsql(ConnectionString));

        var missing = WorkersContextRequirements.Missing(db);

        Assert.Equal(2, missing.Count);
        Assert.StartsWith("Workers' execution strategy (it has NpgsqlExecutionStrategy", missing[0], StringComparison.Ordinal);
        Assert.StartsWith("the durable-commit interceptor", missing[1], StringComparison.Ordinal);
    }

    [Fact]
    public void RetryOnFailureAfterUseWorkersPostgres_LacksTheStrategy()
    {
        using var db = Build(o => o.UseWorkersPostgres(ConnectionString).UseNpgsql(n => n.EnableRetryOnFailure()));

        var missing = Assert.Single(WorkersContextRequirements.Missing(db));
        Assert.Contains("NpgsqlRetryingExecutionStrategy", missing, StringComparison.Ordinal);
    }

    [Fact]
    public void NoConnectionString_IsMissing()
    {
        using var db = Build(o => o.UseWorkersPostgres());

        Assert.StartsWith("a connection string", Assert.Single(WorkersContextRequirements.Missing(db)), StringComparison.Ordinal);
    }

    [Fact]
    public void Refusal_NamesTheContextWhatIsMissingAndTheFix()
    {
        var message = WorkersContextRequirements.Refusal(typeof(TestDb), ["a", "b"]);

        Assert.StartsWith("Workers' outbox and inbox on TestDb need its failover-aware configuration, which the registered TestDb lacks: a; b.", message, StringComparison.Ordinal);
        Assert.Contains("AddDbContextPool<TestDb>(o => o.UseNpgsql(connectionString).UseWorkersPostgres())", message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnregisteredContext_IsRefusedByTheStartCheck()
    {
        var services = new ServiceCollection();
        services.AddWorkersInbox<TestDb>();
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<WorkersContextCheck<TestDb>>>().Value);

        Assert.Contains("TestDb, which is not registered", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PublishThroughOutboxWithoutAnOutbox_IsRefused()
    {
        var services = new ServiceCollection();
        services.AddDbContext<TestDb>(o => o.UseWorkersPostgres(ConnectionString));
        services.AddWorkersInbox<TestDb>(o => o.PublishThroughOutbox = true);
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<InboxOptions>>().Value);

        Assert.Contains("Workers:Inbox:PublishThroughOutbox is true, but no outbox is registered", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PublishThroughOutboxWithTheOutbox_IsValid()
    {
        var services = new ServiceCollection();
        services.AddDbContext<TestDb>(o => o.UseWorkersPostgres(ConnectionString));
        services.AddWorkersOutbox<TestDb>().AddWorkersInbox<TestDb>(o => o.PublishThroughOutbox = true);
        using var provider = services.BuildServiceProvider();

        Assert.True(provider.GetRequiredService<IOptions<InboxOptions>>().Value.PublishThroughOutbox);
        Assert.NotNull(provider.GetRequiredService<IOptions<WorkersContextCheck<TestDb>>>().Value); // the context passes the check
    }

    private static TestDb Build(Action<DbContextOptionsBuilder> configure)
    {
        var options = new DbContextOptionsBuilder<TestDb>();
        configure(options);
        return new TestDb(options.Options);
    }
}
