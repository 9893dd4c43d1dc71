using System.Reflection;
using MassTransit;
using MassTransit.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Workers.Hosting;

/// <summary>
/// Workers on a bus the application registers itself (<see cref="WorkersBuilder.UseExistingMassTransit"/>): the
/// registration checks, the endpoint callback that adds Workers' pipeline to each consumer endpoint
/// <c>ConfigureEndpoints</c> creates, and the host's order (Workers' checks before MassTransit's hosted service).
/// </summary>
internal static class ExistingMassTransit
{
    /// <summary>Refuses what cannot work on the application's bus, before anything is registered.</summary>
    public static void CheckBuilder(IServiceCollection services, WorkersBuilder workers)
    {
        List<string> errors = [];
        if (services.Any(d => d.ServiceType == typeof(ExistingBusState)))
        {
            errors.Add("AddWorkers is called twice: call it once, with every setting.");
        }

        if (!services.Any(d => d.ServiceType == typeof(IBus)))
        {
            errors.Add("UseExistingMassTransit needs the application's services.AddMassTransit(...) first: call it before builder.AddWorkers(...).");
        }

        if (workers.Consumers.Count > 0)
        {
            errors.Add($"AddConsumer ({string.Join(", ", workers.Consumers.Select(c => c.ConsumerType.Name))}) with UseExistingMassTransit: register consumers in AddMassTransit (x.AddConsumer<TConsumer, TDefinition>()); Workers' pipeline reaches the endpoints cfg.ConfigureEndpoints(context) creates.");
        }

        if (workers.BusActions.Count > 0 || workers.TransportActions.Count > 0)
        {
            errors.Add("ConfigureBus and ConfigureRabbitMq adjust the bus Workers registers; with UseExistingMassTransit the application configures its bus in its own AddMassTransit.");
        }

        if (errors.Count > 0)
        {
            throw new InvalidOperationException(string.Join(" ", errors));
        }
    }

    /// <summary>The endpoint callback, its state and the start check (which runs before Workers' other hosted services).</summary>
    public static void Register(IServiceCollection services, WorkersBuilder workers)
    {
        services.AddSingleton<ExistingBusState>();
        services.AddSingleton(workers);
        services.AddSingleton<IConfigureReceiveEndpoint, WorkersReceiveEndpointConfigurator>();
        services.AddHostedService<ExistingBusCheck>();
        services.AddSingleton(sp => new WorkerEndpointCatalog([.. sp.GetRequiredService<ExistingBusState>().Endpoints(sp).Keys]));
    }

    /// <summary>
    /// MassTransit's hosted service was registered by the application before Workers: it moves to where
    /// <c>AddWorkers</c> puts it on its own path, after the start check and the broker preflights, before the watchdog.
    /// </summary>
    public static void OrderHostedServices(IServiceCollection services)
    {
        var bus = services.Where(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(MassTransitHostedService)).ToList();
        foreach (var descriptor in bus)
        {
            services.Remove(descriptor);
        }

        var watchdog = services.IndexOf(services.Last(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(ConsumerWatchdog)));
        foreach (var descriptor in bus)
        {
            services.Insert(watchdog++, descriptor);
        }
    }
}

/// <summary>What Workers learns while the application's bus is configured, checked by <see cref="ExistingBusCheck"/>.</summary>
internal sealed class ExistingBusState
{
    private readonly Lock gate = new();
    private readonly List<string> errors = [];
    private readonly HashSet<string> configured = [];
    private IReadOnlyDictionary<string, IReadOnlyList<IConsumerRegistration>>? endpoints;

    /// <summary>Whether the application's <c>UsingRabbitMq</c> called <c>cfg.UseWorkers(context)</c>.</summary>
    public bool UseWorkersCalled { get; set; }

    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (gate)
            {
                return [.. errors];
            }
        }
    }

    public void AddError(string error)
    {
        lock (gate)
        {
            errors.Add(error);
        }
    }

    public void Configured(string queue)
    {
        lock (gate)
        {
            configured.Add(queue);
        }
    }

    public bool WasConfigured(string queue)
    {
        lock (gate)
        {
            return configured.Contains(queue);
        }
    }

    /// <summary>
    /// The endpoints <c>ConfigureEndpoints</c> creates for the application's consumers, by name, as MassTransit names
    /// them: each consumer's definition with the registration context's endpoint name formatter. Empty without MassTransit.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<IConsumerRegistration>> Endpoints(IServiceProvider services)
    {
        lock (gate)
        {
            if (endpoints is null)
            {
                if (services.GetService<IBusRegistrationContext>() is not { } context)
                {
                    return new Dictionary<string, IReadOnlyList<IConsumerRegistration>>();
                }

                var formatter = context.EndpointNameFormatter;
                endpoints = context.GetServices<IConsumerRegistration>()
                    .Where(r => r.IncludeInConfigureEndpoints)
                    .GroupBy(r => r.GetDefinition(context).GetEndpointName(formatter), StringComparer.Ordinal)
                    .ToDictionary(g => g.Key, IReadOnlyList<IConsumerRegistration> (g) => [.. g], StringComparer.Ordinal);
            }

            return endpoints;
        }
    }
}

/// <summary>
/// Adds Workers' pipeline (<see cref="EndpointPipeline"/>) and the application's <see cref="WorkersBuilder.ConfigureEndpoint"/>
/// hooks to each endpoint <c>ConfigureEndpoints</c> creates for a consumer. MassTransit calls it after the endpoint
/// definition is applied (its name, concurrency, prefetch) and before the consumer (and its definition's
/// <c>ConfigureConsumer</c>) is configured on the endpoint.
/// </summary>
internal sealed class WorkersReceiveEndpointConfigurator(IServiceProvider services, WorkersBuilder workers, ExistingBusState state) : IConfigureReceiveEndpoint
{
    private static readonly MethodInfo ApplyMethod = typeof(WorkersReceiveEndpointConfigurator).GetMethod(nameof(Apply), BindingFlags.NonPublic | BindingFlags.Static)!;

    public void Configure(string name, IReceiveEndpointConfigurator configurator)
    {
        if (!state.Endpoints(services).TryGetValue(name, out var registrations))
        {
            // Sagas, activities, the application's own endpoints: not a consumer endpoint of Workers'.
            return;
        }

        if (registrations.Count > 1)
        {
            state.AddError($"The endpoint '{name}' has several consumers ({string.Join(", ", registrations.Select(r => r.Type.Name))}): give each a queue of its own (its definition's EndpointName), so that one saturated consumer never holds another's messages.");
            return;
        }

        if (configurator is not IRabbitMqReceiveEndpointConfigurator rabbit)
        {
            state.AddError($"The endpoint '{name}' is not a RabbitMQ endpoint: Workers runs on RabbitMQ (x.UsingRabbitMq).");
            return;
        }

        var context = services.GetRequiredService<IBusRegistrationContext>();
        var settings = BusConfiguration.Settings(workers, services.GetRequiredService<IOptions<WorkersOptions>>().Value, name);
        ApplyMethod.MakeGenericMethod(registrations[0].Type).Invoke(null, BindingFlags.DoNotWrapExceptions, null, [rabbit, context, settings, workers, registrations[0]], null);
        state.Configured(name);
    }

    private static void Apply<TConsumer>(IRabbitMqReceiveEndpointConfigurator endpoint, IBusRegistrationContext context, EffectiveEndpoint settings, WorkersBuilder workers, IConsumerRegistration registration)
        where TConsumer : class, IConsumer
    {
        EndpointPipeline.Apply<TConsumer>(endpoint, context, settings);
        workers.ApplyEndpointHooks(settings.Queue, endpoint, context);

        // Runs after the consumer definition: configuration's limit replaces the definition's.
        registration.AddConfigureAction<TConsumer>((_, consumer) => WorkersBuilder.ConsumerLimit(consumer, settings));
    }
}

/// <summary>
/// At start, before the broker preflights and the bus: builds the application's bus (its <c>UsingRabbitMq</c> runs)
/// and refuses to start, every problem in one exception, when Workers' pipeline would not reach each consumer, or when
/// the bus's host is not <c>Workers:RabbitMq:Uri</c> (the delay ladder and the error queues would sit elsewhere).
/// </summary>
internal sealed class ExistingBusCheck(IServiceProvider services, WorkersBuilder workers, ExistingBusState state, IOptions<WorkersOptions> options) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var errors = Check(services, workers, state, options.Value);
        return errors.Count == 0
            ? Task.CompletedTask
            : throw new InvalidOperationException($"Workers cannot run on the application's MassTransit bus: {string.Join(" ", errors)}");
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    internal static List<string> Check(IServiceProvider services, WorkersBuilder workers, ExistingBusState state, WorkersOptions options)
    {
        var bus = services.GetRequiredService<IBus>();
        List<string> errors = [];
        if (!state.UseWorkersCalled)
        {
            errors.Add("call cfg.UseWorkers(context) in x.UsingRabbitMq((context, cfg) => ...), before cfg.ConfigureEndpoints(context).");
        }
        else if (HostMismatch(bus.Address, options.RabbitMq.Uri) is { } mismatch)
        {
            errors.Add(mismatch);
        }

        errors.AddRange(state.Errors);
        var endpoints = state.Endpoints(services);
        foreach (var (queue, registrations) in endpoints)
        {
            if (registrations.Count == 1 && !state.WasConfigured(queue))
            {
                errors.Add($"the consumer {registrations[0].Type.Name}'s endpoint '{queue}' was not created by cfg.ConfigureEndpoints(context) (configured by hand, or named by another endpoint name formatter): Workers' stages reach only the endpoints ConfigureEndpoints creates.");
            }
        }

        errors.AddRange(workers.UnknownQueueErrors([.. endpoints.Keys]));
        return errors;
    }

    /// <summary>The bus's host, port and virtual host against <c>Workers:RabbitMq:Uri</c> (never its credentials).</summary>
    internal static string? HostMismatch(Uri busAddress, string workersUri)
    {
        var workers = BrokerAddress.Parse(workersUri);
        var segments = busAddress.AbsolutePath.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        var vhost = segments.Length >= 2 ? Uri.UnescapeDataString(segments[0]) : "/";
        var port = busAddress.IsDefaultPort || busAddress.Port < 0 ? (workers.UseTls ? 5671 : 5672) : busAddress.Port;
        var same = string.Equals(busAddress.Host, workers.Host, StringComparison.OrdinalIgnoreCase) && port == workers.Port && vhost == workers.VirtualHost;
        return same
            ? null
            : $"the bus connects to {busAddress.Host}:{port}, virtual host '{vhost}', but Workers:RabbitMq:Uri names {workers.Host}:{workers.Port}, virtual host '{workers.VirtualHost}' (Workers' delay ladder and error queues must be on the bus's virtual host): remove the application's cfg.Host(...), cfg.UseWorkers(context) sets the host from Workers:RabbitMq.";
    }
}
