using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Npgsql.EntityFrameworkCore.PostgreSQL.Infrastructure;
using Workers.Postgres.Inbox;
using Workers.Postgres.Outbox;
using Workers.Postgres.Storage;

namespace Workers.Postgres;

/// <summary>
/// Entry points of the PostgreSQL outbox and inbox.
/// <list type="number">
/// <item><c>services.AddDbContext&lt;AppDb&gt;(o =&gt; o.UseWorkersPostgres(connectionString))</c> (multi-host allowed, e.g.
/// <c>Host=db1:5432,db2:5432;Target Session Attributes=primary</c>).</item>
/// <item>In <c>AppDb.OnModelCreating</c>: <c>modelBuilder.AddWorkersOutbox().AddWorkersInbox()</c>.</item>
/// <item><c>services.AddWorkersOutbox&lt;AppDb&gt;()</c> and <c>services.AddWorkersInbox&lt;AppDb&gt;()</c>.</item>
/// <item>On each receive endpoint whose consumers use <c>AppDb</c>: <c>e.UseWorkersInbox(context)</c>.</item>
/// <item><c>await WorkersSchema.ApplyAsync(db)</c> from <c>workers migrate</c> (or <see cref="OutboxOptions.ApplySchemaOnStartup"/>).</item>
/// </list>
/// The inbox is the innermost stage of the consume pipeline, just outside the consumer (the order: the Workers.Resilience README).
/// </summary>
public static class WorkersPostgresExtensions
{
    /// <summary>Default number of database retries of the execution strategy.</summary>
    public const int DefaultMaxRetryCount = OutboxConstants.DefaultMaxDatabaseRetryCount;

    /// <summary>
    /// Configures the context for PostgreSQL the way the outbox and inbox need it: Npgsql with a retrying execution
    /// strategy that also retries failover errors (25006 on a stale pooled connection, after clearing the pool; a
    /// commit not confirmed by the synchronous standby; split brain), and an interceptor that turns the
    /// <c>canceling wait for synchronous replication</c> notice into <see cref="NonDurableCommitException"/>.
    /// Explicit transactions must run inside <c>Database.CreateExecutionStrategy().ExecuteAsync(...)</c>.
    /// </summary>
    /// <param name="builder">The DbContext options builder.</param>
    /// <param name="connectionString">Npgsql connection string; list several hosts with <c>Target Session Attributes=primary</c> for failover.</param>
    /// <param name="configure">Further Npgsql settings (migrations assembly, command timeout...).</param>
    /// <returns>The same builder.</returns>
    public static DbContextOptionsBuilder UseWorkersPostgres(this DbContextOptionsBuilder builder, string connectionString, Action<NpgsqlDbContextOptionsBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        builder.UseNpgsql(connectionString, npgsql =>
        {
            npgsql.ExecutionStrategy(d => new WorkersExecutionStrategy(d, OutboxConstants.DefaultMaxDatabaseRetryCount, OutboxConstants.DefaultMaxDatabaseRetryDelay));
            configure?.Invoke(npgsql);
        });
        builder.AddInterceptors(DurableCommitInterceptor.Instance);
        return builder;
    }

    /// <summary>
    /// Registers the transactional outbox for <typeparamref name="TDbContext"/>: the scoped <see cref="IWorkersOutbox"/>,
    /// the dispatcher (a hosted service running in every replica; needs MassTransit's <c>IBus</c>), the
    /// <c>workers-outbox</c> health check, and validated <see cref="OutboxOptions"/> (also bindable from <c>Workers:Outbox</c>).
    /// </summary>
    /// <typeparam name="TDbContext">The application's context; its model must call <c>AddWorkersOutbox()</c>.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="configure">Option overrides.</param>
    /// <returns>The same services.</returns>
    public static IServiceCollection AddWorkersOutbox<TDbContext>(this IServiceCollection services, Action<OutboxOptions>? configure = null)
        where TDbContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(services);
        AddCommon<TDbContext>(services);
        var options = services.AddOptions<OutboxOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OutboxOptions>, OutboxOptionsValidator>());
        services.TryAddSingleton<OutboxDispatcherHooks>();
        services.TryAddScoped<IWorkersOutbox, WorkersOutbox<TDbContext>>();
        if (!services.Any(d => d.ServiceType == typeof(OutboxDispatcher<TDbContext>)))
        {
            services.AddSingleton<OutboxDispatcher<TDbContext>>();
            services.AddHostedService(sp => sp.GetRequiredService<OutboxDispatcher<TDbContext>>());
            services.AddHealthChecks().AddCheck<OutboxHealthCheck<TDbContext>>(OutboxConstants.HealthCheckName, HealthStatus.Degraded, ["workers", "outbox", "ready"]);
        }

        return services;
    }

    /// <summary>
    /// Registers the inbox for <typeparamref name="TDbContext"/>: the scoped runner used by <see cref="UseWorkersInbox"/>,
    /// the background cleanup, and validated <see cref="InboxOptions"/> (also bindable from <c>Workers:Inbox</c>).
    /// </summary>
    /// <typeparam name="TDbContext">The application's context; its model must call <c>AddWorkersInbox()</c>.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="configure">Option overrides.</param>
    /// <returns>The same services.</returns>
    public static IServiceCollection AddWorkersInbox<TDbContext>(this IServiceCollection services, Action<InboxOptions>? configure = null)
        where TDbContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(services);
        AddCommon<TDbContext>(services);
        var options = services.AddOptions<InboxOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<InboxOptions>, InboxOptionsValidator>());
        services.TryAddScoped<IInboxRunner, InboxRunner<TDbContext>>();
        services.TryAddScoped(typeof(InboxFilter<>));
        if (!services.Any(d => d.ServiceType == typeof(InboxCleanupService<TDbContext>)))
        {
            services.AddSingleton<InboxCleanupService<TDbContext>>();
            services.AddHostedService(sp => sp.GetRequiredService<InboxCleanupService<TDbContext>>());
            services.AddHealthChecks().AddCheck<InboxDatabaseHealthCheck<TDbContext>>(InboxConstants.HealthCheckName, HealthStatus.Degraded, ["workers", "inbox", "ready"]);
        }

        return services;
    }

    /// <summary>
    /// Adds the inbox to a receive endpoint (call before configuring its consumers): every message is processed in one
    /// transaction on the scope's DbContext (the one injected into the consumer) that records (MessageId, endpoint),
    /// runs the consumer, saves its changes and its <see cref="IWorkersOutbox"/> messages, and commits; a duplicate is
    /// acknowledged without running the consumer. Requires <see cref="AddWorkersInbox{TDbContext}"/>.
    /// </summary>
    /// <param name="configurator">The receive endpoint (or bus) consume pipe configurator.</param>
    /// <param name="context">MassTransit's registration context (the scope is shared with the consumer).</param>
    public static void UseWorkersInbox(this IConsumePipeConfigurator configurator, IRegistrationContext context)
    {
        ArgumentNullException.ThrowIfNull(configurator);
        ArgumentNullException.ThrowIfNull(context);
        configurator.UseConsumeFilter(typeof(InboxFilter<>), context);
    }

    private static void AddCommon<TDbContext>(IServiceCollection services)
        where TDbContext : DbContext
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<WorkersDatabase<TDbContext>>();
        services.TryAddScoped<OutboxConsumeScope>();
        if (!services.Any(d => d.ServiceType == typeof(Failover.PostgresTopologyMonitor<TDbContext>)))
        {
            // The split-brain guard's check, for the inbox and the outbox alike (Workers:Outbox:TopologyCheckInterval).
            services.AddOptions<OutboxOptions>();
            services.AddSingleton<Failover.PostgresTopologyMonitor<TDbContext>>();
            services.AddHostedService(sp => sp.GetRequiredService<Failover.PostgresTopologyMonitor<TDbContext>>());
        }
    }

    private sealed class OutboxOptionsValidator : IValidateOptions<OutboxOptions>
    {
        public ValidateOptionsResult Validate(string? name, OutboxOptions options)
        {
            var errors = options.Validate();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }

    private sealed class InboxOptionsValidator : IValidateOptions<InboxOptions>
    {
        public ValidateOptionsResult Validate(string? name, InboxOptions options)
        {
            var errors = options.Validate();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
