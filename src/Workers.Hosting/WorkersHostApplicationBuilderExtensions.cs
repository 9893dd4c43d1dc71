using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Workers.Resilience;

namespace Workers.Hosting;

/// <summary>The entry point: <c>builder.AddWorkers(w =&gt; w.AddConsumer&lt;MyConsumer&gt;())</c>.</summary>
public static class WorkersHostApplicationBuilderExtensions
{
    // MassTransit's meter and activity source name.
    private const string MassTransitInstrumentation = "MassTransit";

    /// <summary>How much longer than <see cref="WorkersOptions.ShutdownTimeout"/> the host waits on stop (the bus's own stop, the last logs): an orchestrator's grace period must cover both.</summary>
    internal static readonly TimeSpan HostShutdownMargin = TimeSpan.FromSeconds(10);

    /// <summary>How long the bus may take to start (<see cref="MassTransitHostOptions.StartTimeout"/>); HTTP, and so every probe, answers only after it.</summary>
    internal static readonly TimeSpan BusStartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Adds the workers to the host: binds <see cref="WorkersOptions"/> from the <c>Workers</c> section (and
    /// <c>WORKERS_RABBITMQ_URI</c>), validates them when the host starts (every error at once), connects
    /// MassTransit to RabbitMQ with publisher confirms and durable queues, and runs each consumer as a hosted
    /// background worker with graceful shutdown (in-flight messages finish within
    /// <see cref="WorkersOptions.ShutdownTimeout"/>; unfinished ones return to their queue).
    /// </summary>
    /// <param name="builder">The host builder.</param>
    /// <param name="configure">Registers consumers and adjusts the bus.</param>
    public static IHostApplicationBuilder AddWorkers(this IHostApplicationBuilder builder, Action<WorkersBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);

        var workers = new WorkersBuilder(builder.Services, builder.Configuration);
        configure(workers);
        if (workers.ExistingMassTransit)
        {
            ExistingMassTransit.CheckBuilder(builder.Services, workers);
        }
        else
        {
            if (builder.Services.Any(d => d.ServiceType == typeof(IBus)))
            {
                // MassTransit's own AddMassTransit would throw "already called" without saying what to do instead.
                throw new InvalidOperationException("MassTransit is already registered (services.AddMassTransit): add w.UseExistingMassTransit() to AddWorkers and call cfg.UseWorkers(context) in its UsingRabbitMq, before cfg.ConfigureEndpoints(context).");
            }

            workers.CheckClassificationQueues();
            if (workers.UnknownQueueErrors([.. workers.Consumers.Select(c => c.QueueName)]) is { Count: > 0 } unknown)
            {
                throw new InvalidOperationException(string.Join(" ", unknown));
            }
        }

        var services = builder.Services;
        services.AddOptions<WorkersOptions>()
            .Bind(builder.Configuration.GetSection(WorkersOptions.SectionName))
            .PostConfigure(options =>
            {
                var fromEnvironment = builder.Configuration[RabbitMqOptions.UriVariable];
                if (!string.IsNullOrWhiteSpace(fromEnvironment))
                {
                    options.RabbitMq.Uri = fromEnvironment;
                }

                var management = builder.Configuration[RabbitMqOptions.ManagementUriVariable];
                if (string.IsNullOrWhiteSpace(options.RabbitMq.ManagementUri) && !string.IsNullOrWhiteSpace(management))
                {
                    options.RabbitMq.ManagementUri = management;
                }

                options.RabbitMq.ConnectionName ??= builder.Environment.ApplicationName;
                var postgres = builder.Configuration[PostgresOptions.ConnectionStringVariable];
                if (!string.IsNullOrWhiteSpace(postgres))
                {
                    options.Postgres.ConnectionString = postgres;
                }
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<WorkersOptions>, WorkersOptionsValidator>();
        if (workers.InboxAvailable)
        {
            // Workers:Inbox:Retention against each inbox endpoint's redelivery horizon, at start with the other errors.
            string[] queues = [.. workers.Consumers.Select(c => c.QueueName)];
            services.AddSingleton<IValidateOptions<Workers.Postgres.InboxOptions>>(sp => new InboxRetentionValidator(
                sp.GetServices<IConfigureOptions<WorkersOptions>>(), sp.GetServices<IPostConfigureOptions<WorkersOptions>>(),
                workers.ExistingMassTransit ? sp.GetRequiredService<WorkerEndpointCatalog>().Queues : queues));
        }


        services.AddOptions<HostOptions>().Configure<IOptions<WorkersOptions>>((host, workersOptions) =>
        {
            // The host waits a little longer than the bus so that the bus's own stop can finish and log.
            var timeout = SafeShutdownTimeout(workersOptions);
            host.ShutdownTimeout = timeout + HostShutdownMargin;
        });
        services.AddOptions<MassTransitHostOptions>().Configure<IOptions<WorkersOptions>>((mt, workersOptions) =>
        {
            var timeout = SafeShutdownTimeout(workersOptions);
            mt.WaitUntilStarted = true;
            mt.StartTimeout = BusStartTimeout;
            mt.ConsumerStopTimeout = timeout;
            mt.StopTimeout = timeout + TimeSpan.FromSeconds(5);
        });

        services.Insert(0, ServiceDescriptor.Singleton<IHostedService, BusLogContextBinder>());

        if (workers.ExistingMassTransit)
        {
            // The application's bus: its check runs first among Workers' hosted services.
            ExistingMassTransit.Register(services, workers);
        }

        // Before MassTransit: the broker check (version, delay ladder) runs as a hosted service ahead of the bus.
        // The redelivery transport follows the bus across the cluster's nodes.
        services.AddSingleton(sp =>
        {
            var rabbit = sp.GetRequiredService<IOptions<WorkersOptions>>().Value.RabbitMq;
            return new Workers.Resilience.Broker.RedeliveryConnection(BrokerAddress.Parse(rabbit.Uri).ToAmqpUri()) { ClusterNodes = [.. rabbit.ClusterNodes] };
        });
        services.AddWorkersRedelivery(sp => sp.GetRequiredService<Workers.Resilience.Broker.RedeliveryConnection>().BrokerUri);
        services.AddHostedService<DeliveryLimitPreflight>();
        services.AddHostedService<DeadLetterQueuePreflight>();
        services.AddWorkersBreakers();
        services.AddSingleton(sp => new EndpointActivityRegistry(sp.GetRequiredService<TimeProvider>()));
        if (!workers.ExistingMassTransit)
        {
            services.AddMassTransit(x => BusConfiguration.Configure(x, workers));
        }

        // MassTransit reports usage telemetry by default; Workers turns it off unless the app opts in.
        services.AddOptions<UsageTelemetryOptions>().Configure<IOptions<WorkersOptions>>((usage, workersOptions) =>
            usage.Enabled = workersOptions.Value.MassTransitUsageTelemetry);

        // After the bus: restarts an endpoint that reports ready but consumes nothing (see ConsumerWatchdogOptions).
        services.AddHostedService<ConsumerWatchdog>();
        // Opt-in (Workers:FailureStore:Enabled): ingests <queue>_error and <queue>_skipped into PostgreSQL; returns at once otherwise.
        services.AddHostedService<FailureStoreIngester>();
        if (workers.ExistingMassTransit)
        {
            ExistingMassTransit.OrderHostedServices(services);
        }
        else
        {
            services.AddSingleton(new WorkerEndpointCatalog([.. workers.Consumers.Select(c => c.QueueName)]));
        }

        services.AddHealthChecks()
            .AddCheck<CircuitBreakerHealthCheck>("circuit-breakers", tags: [WorkersHealth.ReadyTag, "workers"])
            .AddCheck<EndpointsReadinessCheck>(EndpointsReadinessCheck.Name, tags: [WorkersHealth.ReadyTag, "workers"]);
        AddTelemetry(builder);
        return builder;
    }

    // The meters and activity sources only: which exporters run is the app's choice (Aspire's ServiceDefaults,
    // UseOtlpExporter(), or Workers' own opt-in, AddWorkersExporters() of the WorkersFx.Exporters package).
    private static void AddTelemetry(IHostApplicationBuilder builder)
    {
        var telemetry = builder.Configuration.GetSection($"{WorkersOptions.SectionName}:Telemetry").Get<TelemetryOptions>() ?? new TelemetryOptions();
        if (!telemetry.Enabled)
        {
            return;
        }

        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration[TelemetryOptions.OtlpEndpointVariable]);
        var otel = builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics.AddMeter(WorkersTelemetry.Name, MassTransitInstrumentation));
        if (telemetry.Tracing ?? otlp)
        {
            otel.WithTracing(tracing => tracing.AddSource(WorkersTelemetry.Name, MassTransitInstrumentation));
        }
    }

    // Options validation reports a bad timeout at start; until then, never configure the host with it.
    private static TimeSpan SafeShutdownTimeout(IOptions<WorkersOptions> options)
    {
        try
        {
            var timeout = options.Value.ShutdownTimeout;
            return timeout < TimeSpan.FromSeconds(1) || timeout > TimeSpan.FromHours(1) ? WorkersOptions.DefaultShutdownTimeout : timeout;
        }
        catch (OptionsValidationException)
        {
            return WorkersOptions.DefaultShutdownTimeout;
        }
    }
}
