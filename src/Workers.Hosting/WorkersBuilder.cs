using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Workers.Hosting;

/// <summary>Registers the consumers a worker runs, and lets the application adjust the bus where it must.</summary>
public sealed class WorkersBuilder
{
    private readonly List<ConsumerRegistration> consumers = [];
    private readonly List<Action<IBusRegistrationConfigurator>> busActions = [];
    private readonly List<Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator>> transportActions = [];

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

        consumers.Add(new ConsumerRegistration(typeof(TConsumer), queue, x => x.AddConsumer<TConsumer>().Endpoint(e => e.Name = queue)));
        return this;
    }

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

/// <summary>A consumer and the queue it runs on.</summary>
internal sealed record ConsumerRegistration(Type ConsumerType, string QueueName, Action<IBusRegistrationConfigurator> Register);
