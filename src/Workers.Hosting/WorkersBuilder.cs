using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Workers.Postgres;

namespace Workers.Hosting;

/// <summary>Registers the consumers a worker runs, and lets the application adjust the bus where it must.</summary>
public sealed partial class WorkersBuilder
{
    private readonly List<ConsumerRegistration> consumers = [];
    private readonly List<Action<IBusRegistrationConfigurator>> busActions = [];
    private readonly List<Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator>> transportActions = [];
    private readonly List<(string? Queue, Action<Workers.Resilience.ExceptionClassificationOptions> Configure)> classification = [];

    internal WorkersBuilder(IServiceCollection services, IConfiguration configuration)
    {
        Services = services;
        Configuration = configuration;
    }

    /// <summary>The application's services.</summary>
    public IServiceCollection Services { get; }

    /// <summary>The application's configuration.</summary>
    public IConfiguration Configuration { get; }

    internal IReadOnlyList<ConsumerRegistration> Consumers => consumers;

    internal IReadOnlyList<Action<IBusRegistrationConfigurator>> BusActions => busActions;

    internal IReadOnlyList<Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator>> TransportActions => transportActions;

    /// <summary>
    /// Runs <typeparamref name="TConsumer"/> on a receive endpoint of its own (one queue per consumer, so that
    /// a saturated consumer never holds another one's messages). The queue is named <paramref name="queueName"/>,
    /// or after the consumer in kebab case (<c>SubmitOrderConsumer</c> → <c>submit-order</c>).
    /// </summary>
    /// <typeparam name="TConsumer">The consumer type; resolved from a scope per message.</typeparam>
    /// <param name="queueName">The queue's name; defaults to the consumer's name in kebab case.</param>
    public WorkersBuilder AddConsumer<TConsumer>(string? queueName = null)
        where TConsumer : class, IConsumer
    {
        if (queueName is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(queueName);
        }

        var queue = queueName ?? KebabCaseEndpointNameFormatter.Instance.Consumer<TConsumer>();
        if (consumers.Any(c => c.ConsumerType == typeof(TConsumer)))
        {
            throw new InvalidOperationException($"The consumer {typeof(TConsumer).Name} is registered twice.");
        }

        if (consumers.Any(c => c.QueueName == queue))
        {
            throw new InvalidOperationException($"The queue '{queue}' already has a consumer: give {typeof(TConsumer).Name} a queue of its own, so that one saturated consumer never holds another's messages.");
        }

        consumers.Add(new ConsumerRegistration(
            typeof(TConsumer),
            queue,
            x => x.AddConsumer<TConsumer>().ExcludeFromConfigureEndpoints(),
            (endpoint, context, settings) =>
            {
                EndpointPipeline.Apply<TConsumer>(endpoint, context, settings);
                ApplyEndpointHooks(queue, endpoint, context);
                endpoint.ConfigureConsumer<TConsumer>(context);
            }));
        return this;
    }

    /// <summary>
    /// Classifies exceptions in code, with predicates configuration cannot express — e.g.
    /// <c>w.ClassifyExceptions(c =&gt; c.Permanent&lt;HttpRequestException&gt;(e =&gt; e.StatusCode == HttpStatusCode.BadRequest))</c>:
    /// a permanent failure is dead-lettered at once and never counts as an outage for the endpoint's circuit breaker;
    /// a transient one is redelivered. Added to <c>Workers:Endpoints:&lt;queue&gt;:Redelivery:Classification</c>
    /// (transient rules win over permanent ones, then Workers' built-in permanent failures apply).
    /// </summary>
    /// <param name="configure">Adds rules (<c>Permanent&lt;T&gt;(when)</c>, <c>Transient&lt;T&gt;(when)</c>).</param>
    /// <param name="queues">The endpoints they apply to; every endpoint when none is given.</param>
    public WorkersBuilder ClassifyExceptions(Action<Workers.Resilience.ExceptionClassificationOptions> configure, params string[] queues)
    {
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(queues);
        if (queues.Length == 0)
        {
            classification.Add((null, configure));
        }

        foreach (var queue in queues)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(queue);
            classification.Add((queue, configure));
        }

        return this;
    }

    /// <summary>Every queue named by <see cref="ClassifyExceptions"/> has a consumer (a typo would silently classify nothing).</summary>
    internal void CheckClassificationQueues()
    {
        var unknown = classification.Where(c => c.Queue is not null && consumers.All(r => r.QueueName != c.Queue)).Select(c => c.Queue).Distinct().ToList();
        if (unknown.Count > 0)
        {
            throw new InvalidOperationException($"ClassifyExceptions names {string.Join(", ", unknown.Select(q => $"'{q}'"))}, which no consumer reads; the endpoints are: {string.Join(", ", consumers.Select(c => $"'{c.QueueName}'"))}.");
        }
    }

    /// <summary>The classification rules given in code for one endpoint, in the order they were given.</summary>
    internal IReadOnlyList<Action<Workers.Resilience.ExceptionClassificationOptions>> ClassificationFor(string queue) =>
        [.. classification.Where(c => c.Queue is null || c.Queue == queue).Select(c => c.Configure)];

    /// <summary>
    /// Adds the PostgreSQL outbox and inbox on the application's <typeparamref name="TDbContext"/>, whose
    /// <c>OnModelCreating</c> must call <c>modelBuilder.AddWorkersOutbox().AddWorkersInbox()</c>. Unless the app
    /// registers the context itself, it is registered here on <c>Workers:Postgres:ConnectionString</c> (or
    /// <c>WORKERS_POSTGRES</c>) with the failover-aware <c>UseWorkersPostgres</c>, pooled (<c>AddDbContextPool</c>) unless
    /// <c>Workers:Postgres:PoolDbContexts</c> is false or its constructor takes more than its options. An app that
    /// registers it (<c>AddDbContextPool</c>, <c>AddDbContext</c>, Aspire's <c>AddNpgsqlDbContext</c>; before or after
    /// <c>AddWorkers</c>) adds Workers' pieces to its own builder: <c>o.UseNpgsql(connectionString).UseWorkersPostgres()</c>;
    /// a context without them is refused at host start, naming what it lacks. The outbox dispatcher runs in this
    /// worker, and every endpoint records its messages in the inbox (exactly-once effects) unless
    /// <c>Workers:Endpoints:&lt;queue&gt;:Inbox</c> is false. Options: <c>Workers:Outbox</c>, <c>Workers:Inbox</c>.
    /// </summary>
    /// <typeparam name="TDbContext">The application's DbContext.</typeparam>
    public WorkersBuilder UsePostgres<TDbContext>()
        where TDbContext : Microsoft.EntityFrameworkCore.DbContext
    {
        if (!DbContextRegistration<TDbContext>.RegisteredByApp(Services))
        {
            DbContextRegistration<TDbContext>.Register(Services, Configuration.GetValue($"{WorkersOptions.SectionName}:Postgres:{nameof(PostgresOptions.PoolDbContexts)}", true));
        }

        Services.AddWorkersOutbox<TDbContext>();
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Options.IValidateOptions<Workers.Postgres.OutboxOptions>, OutboxConfirmsValidator>());
        Services.AddWorkersInbox<TDbContext>();
        Services.AddOptions<Workers.Postgres.OutboxOptions>().Bind(Configuration.GetSection($"{WorkersOptions.SectionName}:Outbox"));
        Services.AddOptions<Workers.Postgres.InboxOptions>().Bind(Configuration.GetSection($"{WorkersOptions.SectionName}:Inbox"));
        InboxAvailable = true;
        return this;
    }

    internal bool InboxAvailable { get; private set; }

    /// <summary>Adjusts MassTransit's registration (sagas, request clients, …) beyond what the workers configure.</summary>
    /// <param name="configure">Called once while MassTransit is registered.</param>
    public WorkersBuilder ConfigureBus(Action<IBusRegistrationConfigurator> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        busActions.Add(configure);
        return this;
    }

    /// <summary>Adjusts the RabbitMQ transport before the endpoints are configured.</summary>
    /// <param name="configure">Called once while the bus is built.</param>
    public WorkersBuilder ConfigureRabbitMq(Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        transportActions.Add(configure);
        return this;
    }
}

/// <summary>A consumer, the queue it runs on, how it is registered and how its endpoint is configured.</summary>
internal sealed record ConsumerRegistration(
    Type ConsumerType,
    string QueueName,
    Action<IBusRegistrationConfigurator> Register,
    Action<IRabbitMqReceiveEndpointConfigurator, IBusRegistrationContext, EffectiveEndpoint> ConfigureEndpoint);
