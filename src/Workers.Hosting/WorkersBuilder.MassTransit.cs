using System.Reflection;
using MassTransit;

namespace Workers.Hosting;

// Issue 18, "plays with MassTransit": consumer definitions, the per-endpoint hook, and an application that calls
// AddMassTransit itself. Kept apart from WorkersBuilder.cs so that both grow without touching each other.
public sealed partial class WorkersBuilder
{
    private readonly List<(string Queue, Action<IRabbitMqReceiveEndpointConfigurator, IBusRegistrationContext> Configure)> endpointHooks = [];

    /// <summary>Whether the application registers MassTransit itself (<see cref="UseExistingMassTransit"/>).</summary>
    internal bool ExistingMassTransit { get; private set; }

    /// <summary>
    /// For an application that calls <c>services.AddMassTransit(...)</c> itself: Workers registers everything but the
    /// bus (options and their validation at start, the broker preflights, breakers, the redelivery connection, the
    /// watchdog, health checks, telemetry), and its pipeline reaches every endpoint MassTransit's
    /// <c>cfg.ConfigureEndpoints(context)</c> creates for the application's consumers. The application's
    /// <c>UsingRabbitMq</c> calls <c>cfg.UseWorkers(context)</c> (the host from <c>Workers:RabbitMq</c>) before
    /// <c>cfg.ConfigureEndpoints(context)</c>. Consumers and their definitions are registered with MassTransit
    /// (<c>x.AddConsumer&lt;TConsumer, TDefinition&gt;()</c>), not here. See the README's "Adding Workers to an existing
    /// MassTransit app".
    /// </summary>
    public WorkersBuilder UseExistingMassTransit()
    {
        ExistingMassTransit = true;
        return this;
    }

    /// <summary>
    /// Runs <typeparamref name="TConsumer"/> like <see cref="AddConsumer{TConsumer}(string?)"/>, with its MassTransit
    /// consumer definition: the queue is the definition's endpoint name unless <paramref name="queueName"/> is given,
    /// and the definition's <c>ConfigureConsumer</c> runs. The definition's <c>ConcurrentMessageLimit</c> applies unless
    /// <c>Workers:Endpoints:&lt;queue&gt;:ConcurrentMessageLimit</c> (or <c>Workers:Defaults</c>) sets one: configuration
    /// wins, so that an operator can change it without a build. The prefetch count is always Workers'
    /// (<c>PrefetchCount</c> of the endpoint, the defaults, then <c>Workers:RabbitMq</c>).
    /// </summary>
    /// <typeparam name="TConsumer">The consumer type; resolved from a scope per message.</typeparam>
    /// <typeparam name="TDefinition">Its consumer definition.</typeparam>
    /// <param name="queueName">The queue's name; defaults to the definition's endpoint name.</param>
    public WorkersBuilder AddConsumer<TConsumer, TDefinition>(string? queueName = null)
        where TConsumer : class, IConsumer
        where TDefinition : class, IConsumerDefinition<TConsumer>
    {
        if (queueName is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(queueName);
        }

        var queue = queueName ?? DefinitionEndpointName<TConsumer, TDefinition>();

        // The same checks as AddConsumer<TConsumer>: one consumer per queue.
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
            x => x.AddConsumer<TConsumer, TDefinition>().ExcludeFromConfigureEndpoints(),
            (endpoint, context, settings) =>
            {
                // As ConfigureEndpoints does: the definition's limit on the endpoint too, unless configuration sets one.
                if (settings.ConcurrentMessageLimit is null && context.GetService(typeof(IConsumerDefinition<TConsumer>)) is IConsumerDefinition<TConsumer> { ConcurrentMessageLimit: { } own })
                {
                    endpoint.ConcurrentMessageLimit = own;
                }

                EndpointPipeline.Apply<TConsumer>(endpoint, context, settings);
                ApplyEndpointHooks(queue, endpoint, context);
                endpoint.ConfigureConsumer<TConsumer>(context, consumer => ConsumerLimit(consumer, settings));
            }));
        return this;
    }

    /// <summary>
    /// Adds the application's own configuration to one endpoint: filters (<c>e.UseFilter(...)</c>,
    /// <c>e.UseConsumeFilter(...)</c>), exchange bindings (<c>e.Bind(...)</c>), anything MassTransit's receive endpoint
    /// configurator offers. It runs after Workers' stages are added and before the consumer is configured, so the
    /// endpoint's pipeline is <c>dead-letter → redelivery → messaging telemetry → breaker → bulkhead → timeout → inbox → your filters → the
    /// consumer definition's filters → consumer</c>: every stage applies to a failure your filter throws. Several
    /// calls for one queue run in the order given. A queue no consumer reads is an error.
    /// </summary>
    /// <param name="queue">The endpoint's queue.</param>
    /// <param name="configure">Configures the endpoint; the context resolves services.</param>
    public WorkersBuilder ConfigureEndpoint(string queue, Action<IRabbitMqReceiveEndpointConfigurator, IBusRegistrationContext> configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentNullException.ThrowIfNull(configure);
        endpointHooks.Add((queue, configure));
        return this;
    }

    /// <summary>The queues named by <see cref="ConfigureEndpoint"/>.</summary>
    internal IEnumerable<string> HookedQueues => endpointHooks.Select(h => h.Queue).Distinct();

    /// <summary>The queues named by <see cref="ClassifyExceptions"/>.</summary>
    internal IEnumerable<string> ClassifiedQueues => classification.Where(c => c.Queue is not null).Select(c => c.Queue!).Distinct();

    /// <summary>Every queue named by <see cref="ConfigureEndpoint"/> or <see cref="ClassifyExceptions"/> has a consumer; the error names the known ones.</summary>
    /// <param name="endpoints">The queues the consumers read.</param>
    /// <returns>The errors, empty when every name is known.</returns>
    internal List<string> UnknownQueueErrors(IReadOnlyCollection<string> endpoints)
    {
        var known = string.Join(", ", endpoints.Select(q => $"'{q}'"));
        List<string> errors = [];
        foreach (var (method, queues) in new[] { (nameof(ConfigureEndpoint), HookedQueues), (nameof(ClassifyExceptions), ClassifiedQueues) })
        {
            var unknown = queues.Where(q => !endpoints.Contains(q)).ToList();
            if (unknown.Count > 0)
            {
                errors.Add($"{method} names {string.Join(", ", unknown.Select(q => $"'{q}'"))}, which no consumer reads; the endpoints are: {known}.");
            }
        }

        return errors;
    }

    /// <summary>Runs the application's <see cref="ConfigureEndpoint"/> hooks for one endpoint, in the order given.</summary>
    internal void ApplyEndpointHooks(string queue, IRabbitMqReceiveEndpointConfigurator endpoint, IBusRegistrationContext context)
    {
        foreach (var (hooked, configure) in endpointHooks)
        {
            if (hooked == queue)
            {
                configure(endpoint, context);
            }
        }
    }

    /// <summary>Configuration's <c>ConcurrentMessageLimit</c> replaces the one a consumer definition set on the consumer.</summary>
    internal static void ConsumerLimit<TConsumer>(IConsumerConfigurator<TConsumer> consumer, EffectiveEndpoint settings)
        where TConsumer : class
    {
        if (settings.ConcurrentMessageLimit is { } limit)
        {
            consumer.ConcurrentMessageLimit = limit;
        }
    }

    private static string DefinitionEndpointName<TConsumer, TDefinition>()
        where TConsumer : class, IConsumer
        where TDefinition : class, IConsumerDefinition<TConsumer>
    {
        if (typeof(TDefinition).GetConstructor(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, Type.EmptyTypes) is not { } constructor)
        {
            throw new InvalidOperationException($"{typeof(TDefinition).Name} has no parameterless constructor to read its endpoint name from: give the queue, AddConsumer<{typeof(TConsumer).Name}, {typeof(TDefinition).Name}>(\"queue\").");
        }

        var definition = (IConsumerDefinition)constructor.Invoke(null);
        return definition.GetEndpointName(KebabCaseEndpointNameFormatter.Instance);
    }
}
