using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Workers.Hosting;
using Workers.Postgres;
using Xunit;

namespace Workers.Hosting.Tests.Options;

/// <summary>
/// <c>UsePostgres</c> with a context the app registers itself (<c>AddDbContextPool</c>/<c>AddDbContext</c> with its own
/// <c>UseNpgsql</c>, as Aspire's <c>AddNpgsqlDbContext</c> does), before or after <c>AddWorkers</c>. No services:
/// options are built, no connection is opened (validation at start stops before the bus).
/// </summary>
public sealed class DbContextRegistrationTests
{
    private const string AppConnectionString = "Host=app-db.invalid;Port=5432;Username=app;Database=app";
    private const string WorkersConnectionString = "Host=workers-db.invalid;Port=5432;Username=workers;Database=workers";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AppRegistersItsContext_ItsOptionsBuilderAloneDecides_BeforeOrAfterAddWorkers(bool appFirst)
    {
        using var host = Build(appFirst, o => o.UseNpgsql(AppConnectionString).UseWorkersPostgres());
        using var scope = host.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDb>();

        Assert.Equal(AppConnectionString, db.Database.GetConnectionString());
        AssertFailoverAware(db); // the interceptor once, not once per configuration that added it
    }

    [Fact]
    public void AppRegistersFirst_WorkersRegistersNoConfigurationOfItsOwn()
    {
        using var host = Build(appFirst: true, o => o.UseNpgsql(AppConnectionString).UseWorkersPostgres());

        Assert.Single(host.Services.GetServices<IDbContextOptionsConfiguration<AppDb>>());
    }

    [Fact]
    public void NoAppRegistration_WorkersRegistersItOnItsConnectionString()
    {
        using var host = Build(appFirst: null, configure: null);
        using var scope = host.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDb>();

        Assert.Equal(WorkersConnectionString, db.Database.GetConnectionString());
        AssertFailoverAware(db);
    }

    [Fact]
    public void UseWorkersPostgres_AfterAnAppRetryStrategy_KeepsTheConnectionAndReplacesTheStrategy()
    {
        var options = new DbContextOptionsBuilder<AppDb>();
        options.UseNpgsql(AppConnectionString, n => n.EnableRetryOnFailure().CommandTimeout(7)).UseWorkersPostgres();
        using var db = new AppDb(options.Options);

        Assert.Equal(AppConnectionString, db.Database.GetConnectionString());
        Assert.Equal(7, db.Database.GetCommandTimeout());
        AssertFailoverAware(db);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AppContextWithoutWorkersConfiguration_IsRefusedAtStart_NamingTheContextAndWhatIsMissing(bool appFirst)
    {
        using var host = Build(appFirst, o => o.UseNpgsql(AppConnectionString, n => n.EnableRetryOnFailure()));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("registered AppDb lacks", error.Message, StringComparison.Ordinal);
        Assert.Contains("Workers' execution strategy (it has NpgsqlRetryingExecutionStrategy", error.Message, StringComparison.Ordinal);
        Assert.Contains("the durable-commit interceptor", error.Message, StringComparison.Ordinal);
        Assert.Contains("UseWorkersPostgres()", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("app-db.invalid", error.Message, StringComparison.Ordinal); // no connection string in errors
    }

    [Fact]
    public async Task RetryStrategySetAfterUseWorkersPostgres_IsRefusedAtStart()
    {
        using var host = Build(appFirst: true, o => o.UseWorkersPostgres().UseNpgsql(AppConnectionString, n => n.EnableRetryOnFailure()));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("Workers' execution strategy", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("interceptor", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AppContextOnAnotherProvider_IsRefusedAtStart()
    {
        using var host = Build(appFirst: true, o => o.UseSqlServerLike());

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("registered AppDb lacks", error.Message, StringComparison.Ordinal);
        Assert.Contains("No database provider has been configured", error.Message, StringComparison.Ordinal);
    }

    // Workers' strategy and its one durable-commit interceptor (internal types of Workers.Postgres, seen by name).
    private static void AssertFailoverAware(DbContext db)
    {
        Assert.Equal("WorkersExecutionStrategy", db.Database.CreateExecutionStrategy().GetType().Name);
        var interceptors = db.GetService<IDbContextOptions>().FindExtension<CoreOptionsExtension>()?.Interceptors ?? [];
        Assert.Equal("DurableCommitInterceptor", Assert.Single(interceptors).GetType().Name);
    }

    // appFirst: null = the app registers nothing; configure: the app's options builder.
    private static IHost Build(bool? appFirst, Action<DbContextOptionsBuilder>? configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Workers:RabbitMq:Uri"] = "amqp://guest:guest@127.0.0.1:1/",
            ["Workers:Postgres:ConnectionString"] = WorkersConnectionString,
        });
        if (appFirst == true)
        {
            builder.Services.AddDbContextPool<AppDb>(configure!);
        }

        builder.AddWorkers(w => w.UsePostgres<AppDb>());
        if (appFirst == false)
        {
            builder.Services.AddDbContextPool<AppDb>(configure!);
        }

        return builder.Build();
    }

    public sealed class AppDb(DbContextOptions<AppDb> options) : DbContext(options)
    {
        protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.AddWorkersOutbox().AddWorkersInbox();
    }
}

/// <summary>A context configured without any provider, standing in for another database's provider.</summary>
internal static class NoProviderExtensions
{
    public static DbContextOptionsBuilder UseSqlServerLike(this DbContextOptionsBuilder builder) => builder.EnableSensitiveDataLogging(false);
}
