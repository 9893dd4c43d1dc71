using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Workers.Hosting;
using Workers.Postgres;
using Xunit;

namespace Workers.Hosting.Tests.Options;

public sealed class DbContextPoolingTests
{
    [Fact]
    public void CanPool_OptionsOnlyConstructor_IsTrue()
    {
        Assert.True(DbContextPooling.CanPool(typeof(PoolableDb)));
    }

    [Fact]
    public void CanPool_ConstructorWithADependency_IsFalse()
    {
        Assert.False(DbContextPooling.CanPool(typeof(DependentDb)));
    }

    [Fact]
    public void CanPool_SeveralPublicConstructors_IsFalse()
    {
        Assert.False(DbContextPooling.CanPool(typeof(TwoConstructorsDb)));
    }

    [Fact]
    public void UsePostgres_ByDefault_LeasesTheContextFromThePool()
    {
        using var provider = Build<PoolableDb>(pool: null);

        Assert.Same(ContextOfAScope<PoolableDb>(provider), ContextOfAScope<PoolableDb>(provider)); // returned at scope end, leased again
    }

    [Fact]
    public void UsePostgres_PoolDbContextsFalse_BuildsAContextPerScope()
    {
        using var provider = Build<PoolableDb>(pool: false);

        Assert.NotSame(ContextOfAScope<PoolableDb>(provider), ContextOfAScope<PoolableDb>(provider));
    }

    [Fact]
    public void UsePostgres_ContextWithDependencies_BuildsAContextPerScope()
    {
        using var provider = Build<DependentDb>(pool: null, services => services.AddSingleton(new Dependency()));

        Assert.NotSame(ContextOfAScope<DependentDb>(provider), ContextOfAScope<DependentDb>(provider));
    }

    private static ServiceProvider Build<TDbContext>(bool? pool, Action<IServiceCollection>? services = null)
        where TDbContext : DbContext
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        if (pool is { } value)
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Workers:Postgres:PoolDbContexts"] = value ? "true" : "false" });
        }

        services?.Invoke(builder.Services);
        builder.AddWorkers(w => w.AddConsumer<PingConsumer>("pooling").UsePostgres<TDbContext>());
        return builder.Services.BuildServiceProvider();
    }

    private static TDbContext ContextOfAScope<TDbContext>(IServiceProvider provider)
        where TDbContext : DbContext
    {
        using var scope = provider.CreateScope();
        return scope.ServiceProvider.GetRequiredService<TDbContext>();
    }

    public sealed record Ping;

    public sealed class PingConsumer : IConsumer<Ping>
    {
        public Task Consume(ConsumeContext<Ping> context) => Task.CompletedTask;
    }

    public sealed class Dependency;

    public sealed class PoolableDb(DbContextOptions<PoolableDb> options) : DbContext(options)
    {
        protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.AddWorkersOutbox().AddWorkersInbox();
    }

    public sealed class DependentDb(DbContextOptions<DependentDb> options, Dependency dependency) : DbContext(options)
    {
        public Dependency Dependency { get; } = dependency;

        protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.AddWorkersOutbox().AddWorkersInbox();
    }

    public sealed class TwoConstructorsDb : DbContext
    {
        public TwoConstructorsDb(DbContextOptions<TwoConstructorsDb> options)
            : base(options)
        {
        }

        public TwoConstructorsDb()
        {
        }
    }
}
