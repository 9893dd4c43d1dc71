using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Workers.Resilience.Broker;
using Workers.Resilience.Redelivery;

namespace Workers.Resilience;

/// <summary>
/// Entry points of the redelivery and dead-letter stages.
/// Redelivery and dead-letter are the outermost stages of the consume pipeline (the order: the Workers.Resilience README).
/// </summary>
public static class ResilienceConfigurationExtensions
{
    /// <summary>
    /// Registers the redelivery transport (its own connection to <paramref name="brokerUri"/>, which must be the bus's vhost)
    /// and a hosted service that verifies the broker (<see cref="BrokerRequirements"/>) at start.
    /// Call it before <c>AddMassTransit</c> so that the check runs before the bus starts.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="brokerUri">AMQP URI of the bus's broker and vhost, with credentials.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddWorkersRedelivery(this IServiceCollection services, Uri brokerUri)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(brokerUri);
        return services.AddWorkersRedelivery(_ => brokerUri);
    }

    /// <summary>
    /// Registers the redelivery transport like <see cref="AddWorkersRedelivery(IServiceCollection, Uri)"/>, with the
    /// broker URI resolved from the container when first needed (e.g. from validated options).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="brokerUri">Resolves the AMQP URI of the broker and vhost the bus uses.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddWorkersRedelivery(this IServiceCollection services, Func<IServiceProvider, Uri> brokerUri)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(brokerUri);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new RedeliveryConnection(brokerUri(sp)));
        services.TryAddSingleton<ErrorQueueTypes>();
        services.TryAddSingleton(sp =>
        {
            var connection = sp.GetRequiredService<RedeliveryConnection>();
            return new BrokerClient(connection.BrokerUri, connection.ClusterNodes) { ErrorQueueTypes = sp.GetRequiredService<ErrorQueueTypes>() };
        });
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, BrokerRequirementsHostedService>());
        return services;
    }

    /// <summary>Adds redelivery (through the broker's delay ladder) and dead-lettering to every consumer of a receive endpoint.</summary>
    /// <param name="configurator">The receive endpoint.</param>
    /// <param name="services">The container where <see cref="AddWorkersRedelivery(IServiceCollection, Uri)"/> registered the transport (the bus registration context).</param>
    /// <param name="options">Redelivery options (defaults when null).</param>
    /// <param name="deadLetter">Dead-letter options (defaults when null).</param>
    /// <param name="fallback">Runs before a message is dead-lettered; its failure does not stop the dead-lettering.</param>
    public static void UseWorkersRedelivery(
        this IReceiveEndpointConfigurator configurator,
        IServiceProvider services,
        RedeliveryOptions? options = null,
        DeadLetterOptions? deadLetter = null,
        Func<DeadLetterFallbackArguments, Task>? fallback = null)
    {
        ArgumentNullException.ThrowIfNull(configurator);
        ArgumentNullException.ThrowIfNull(services);
        configurator.AddPipeSpecification(Create<ConsumeContext>(services, options, deadLetter, fallback, consumer: null));
    }

    /// <summary>As the public overload, with the endpoint's classification (its rules in code added) given apart from
    /// <paramref name="options"/>, which may be shared by several endpoints.</summary>
    internal static void UseWorkersRedelivery(
        this IReceiveEndpointConfigurator configurator,
        IServiceProvider services,
        RedeliveryOptions options,
        DeadLetterOptions deadLetter,
        ExceptionClassificationOptions classification)
    {
        configurator.AddPipeSpecification(Create<ConsumeContext>(services, options, deadLetter, fallback: null, consumer: null, classification));
    }

    /// <summary>Adds redelivery and dead-lettering to every consumer of a receive endpoint, configured in code.</summary>
    /// <param name="configurator">The receive endpoint.</param>
    /// <param name="services">The container where <see cref="AddWorkersRedelivery(IServiceCollection, Uri)"/> registered the transport.</param>
    /// <param name="configure">Sets the redelivery options.</param>
    public static void UseWorkersRedelivery(this IReceiveEndpointConfigurator configurator, IServiceProvider services, Action<RedeliveryOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new RedeliveryOptions();
        configure(options);
        configurator.UseWorkersRedelivery(services, options);
    }

    /// <summary>Adds redelivery (through the broker's delay ladder) and dead-lettering to one consumer.</summary>
    /// <typeparam name="TConsumer">The consumer type.</typeparam>
    /// <param name="configurator">The consumer's configurator (e.g. in a consumer definition).</param>
    /// <param name="services">The container where <see cref="AddWorkersRedelivery(IServiceCollection, Uri)"/> registered the transport.</param>
    /// <param name="options">Redelivery options (defaults when null).</param>
    /// <param name="deadLetter">Dead-letter options (defaults when null).</param>
    /// <param name="fallback">Runs before a message is dead-lettered; its failure does not stop the dead-lettering.</param>
    public static void UseWorkersRedelivery<TConsumer>(
        this IConsumerConfigurator<TConsumer> configurator,
        IServiceProvider services,
        RedeliveryOptions? options = null,
        DeadLetterOptions? deadLetter = null,
        Func<DeadLetterFallbackArguments, Task>? fallback = null)
        where TConsumer : class
    {
        ArgumentNullException.ThrowIfNull(configurator);
        ArgumentNullException.ThrowIfNull(services);
        configurator.AddPipeSpecification(Create<ConsumerConsumeContext<TConsumer>>(services, options, deadLetter, fallback, typeof(TConsumer).FullName));
    }

    /// <summary>Adds redelivery and dead-lettering to one consumer, configured in code.</summary>
    /// <typeparam name="TConsumer">The consumer type.</typeparam>
    /// <param name="configurator">The consumer's configurator.</param>
    /// <param name="services">The container where <see cref="AddWorkersRedelivery(IServiceCollection, Uri)"/> registered the transport.</param>
    /// <param name="configure">Sets the redelivery options.</param>
    public static void UseWorkersRedelivery<TConsumer>(this IConsumerConfigurator<TConsumer> configurator, IServiceProvider services, Action<RedeliveryOptions> configure)
        where TConsumer : class
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new RedeliveryOptions();
        configure(options);
        configurator.UseWorkersRedelivery(services, options);
    }

    private static RedeliveryPipeSpecification<TContext> Create<TContext>(
        IServiceProvider services,
        RedeliveryOptions? options,
        DeadLetterOptions? deadLetter,
        Func<DeadLetterFallbackArguments, Task>? fallback,
        string? consumer,
        ExceptionClassificationOptions? classification = null)
        where TContext : class, ConsumeContext
    {
        options ??= new RedeliveryOptions();
        deadLetter ??= new DeadLetterOptions();
        var errors = options.Validate().Concat(deadLetter.Validate()).ToList();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid Workers redelivery options:" + Environment.NewLine + string.Join(Environment.NewLine, errors), nameof(options));
        }

        var time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger("Workers.Resilience.Redelivery") ?? NullLogger.Instance;
        return new RedeliveryPipeSpecification<TContext>(
            () => services.GetService<BrokerClient>()
                ?? throw new InvalidOperationException("Workers redelivery: call services.AddWorkersRedelivery(brokerUri) before configuring UseWorkersRedelivery."),
            new RedeliverySettings(options, deadLetter, fallback, consumer, time, logger) { Classification = classification ?? options.Classification });
    }
}
