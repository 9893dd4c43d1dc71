using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Workers.Resilience.Bulkhead;
using Workers.Resilience.CircuitBreaker;
using Workers.Resilience.Timeout;

namespace Workers.Resilience;

/// <summary>
/// Entry points of the circuit breaker, bulkhead and timeout stages.
/// </summary>
/// <remarks>
/// <para>The consume pipeline's order is written in the Workers.Resilience README.
/// MassTransit applies filters in the order they are configured, so on a receive endpoint call the redelivery
/// stage first, then <c>UseWorkersMessagingTelemetry</c>, then <c>UseEndpointCircuitBreaker</c>, then per consumer <c>UseBulkhead&lt;TConsumer&gt;</c> and
/// <c>UseConsumerTimeout&lt;TConsumer&gt;</c>, then <c>ConfigureConsumer</c>. The bulkhead and the timeout sit on the endpoint's
/// consume pipe (they act on the messages of the consumer's types) rather than inside the consumer's pipe, because MassTransit
/// turns an <see cref="OperationCanceledException"/> escaping a consumer pipe into a <c>ConsumerCanceledException</c>
/// (a fault), which would defeat a requeue.</para>
/// <para>Messages that must return to the broker untouched (breaker open, bulkhead full) fail with
/// <see cref="CircuitBreakerOpenException"/> or <see cref="BulkheadRejectedException"/>; both derive from
/// <see cref="OperationCanceledException"/>, which MassTransit's error pipe does not handle, so the RabbitMQ transport
/// nacks the delivery with requeue: no <c>_error</c>, no <c>MT-Redelivery-Count</c>. Outer stages must rethrow them untouched.</para>
/// </remarks>
public static class BreakerConfigurationExtensions
{
    /// <summary>
    /// Registers the singletons the stages need: <see cref="CircuitBreakerRegistry"/>, <see cref="BulkheadRegistry"/>,
    /// <see cref="ConsumerTimeoutRegistry"/>, <see cref="CircuitBreakerHealthCheck"/> and <see cref="TimeProvider.System"/>
    /// (unless a <see cref="TimeProvider"/> is registered already), and a bus observer that keeps the breakers from
    /// restarting endpoints while the bus stops.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The same collection.</returns>
    public static IServiceCollection AddWorkersBreakers(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new CircuitBreakerRegistry(
            sp.GetRequiredService<TimeProvider>(), sp.GetService<ILoggerFactory>(), sp.GetService<ExceptionClassificationOptions>()));
        services.TryAddSingleton(sp => new BulkheadRegistry(sp.GetService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(sp => new ConsumerTimeoutRegistry(sp.GetRequiredService<TimeProvider>(), sp.GetService<ILoggerFactory>()));
        services.TryAddSingleton<CircuitBreakerHealthCheck>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IBusObserver, CircuitBreakerBusObserver>(sp => new CircuitBreakerBusObserver(sp.GetRequiredService<CircuitBreakerRegistry>())));
        return services;
    }

    /// <summary>
    /// Adds a circuit breaker to a receive endpoint: when it opens, the endpoint stops consuming until the break is over.
    /// Endpoints configured with the same <see cref="CircuitBreakerOptions.Name"/> share one breaker (a dependency).
    /// Needs <see cref="AddWorkersBreakers"/>; <paramref name="provider"/> is the bus registration context.
    /// </summary>
    /// <param name="configurator">The receive endpoint.</param>
    /// <param name="provider">The service provider (the <c>IBusRegistrationContext</c> of <c>UsingRabbitMq</c>).</param>
    /// <param name="configure">Changes the default options.</param>
    public static void UseEndpointCircuitBreaker(this IReceiveEndpointConfigurator configurator, IServiceProvider provider, Action<CircuitBreakerOptions>? configure = null)
    {
        var options = new CircuitBreakerOptions();
        configure?.Invoke(options);
        UseEndpointCircuitBreaker(configurator, provider, options);
    }

    /// <summary>Adds a circuit breaker to a receive endpoint with the given options (e.g. bound from configuration).</summary>
    /// <param name="configurator">The receive endpoint.</param>
    /// <param name="provider">The service provider (the <c>IBusRegistrationContext</c> of <c>UsingRabbitMq</c>).</param>
    /// <param name="options">The breaker's options.</param>
    public static void UseEndpointCircuitBreaker(this IReceiveEndpointConfigurator configurator, IServiceProvider provider, CircuitBreakerOptions options)
    {
        ArgumentNullException.ThrowIfNull(configurator);
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(options);
        var registry = provider.GetRequiredService<CircuitBreakerRegistry>();
        var name = string.IsNullOrWhiteSpace(options.Name) ? QueueName(configurator.InputAddress) : options.Name;
        configurator.AddPipeSpecification(new CircuitBreakerSpecification(registry, name, options));
        configurator.ConnectReceiveEndpointObserver(new CircuitBreakerEndpointObserver(registry, name, options));
    }

    /// <summary>
    /// Adds a bulkhead for one consumer of the endpoint: messages of the types <typeparamref name="TConsumer"/> consumes take
    /// its permits. Call after <c>UseEndpointCircuitBreaker</c> and before <c>ConfigureConsumer</c>. Needs <see cref="AddWorkersBreakers"/>.
    /// </summary>
    /// <typeparam name="TConsumer">The consumer.</typeparam>
    /// <param name="configurator">The receive endpoint.</param>
    /// <param name="provider">The service provider (the <c>IBusRegistrationContext</c>).</param>
    /// <param name="configure">Changes the default options.</param>
    /// <param name="consumerName">Name in <see cref="BulkheadRegistry"/>; the consumer type's full name by default.</param>
    public static void UseBulkhead<TConsumer>(this IReceiveEndpointConfigurator configurator, IServiceProvider provider, Action<BulkheadOptions>? configure = null, string? consumerName = null)
        where TConsumer : class
    {
        var options = new BulkheadOptions();
        configure?.Invoke(options);
        UseBulkhead<TConsumer>(configurator, provider, options, consumerName);
    }

    /// <summary>Adds a bulkhead for one consumer of the endpoint with the given options (e.g. bound from configuration).</summary>
    /// <typeparam name="TConsumer">The consumer.</typeparam>
    /// <param name="configurator">The receive endpoint.</param>
    /// <param name="provider">The service provider (the <c>IBusRegistrationContext</c>).</param>
    /// <param name="options">The bulkhead's options.</param>
    /// <param name="consumerName">Name in <see cref="BulkheadRegistry"/>; the consumer type's full name by default.</param>
    public static void UseBulkhead<TConsumer>(this IReceiveEndpointConfigurator configurator, IServiceProvider provider, BulkheadOptions options, string? consumerName = null)
        where TConsumer : class
    {
        ArgumentNullException.ThrowIfNull(configurator);
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(options);
        var name = consumerName ?? typeof(TConsumer).FullName ?? typeof(TConsumer).Name;
        configurator.AddPipeSpecification(new BulkheadSpecification(provider.GetRequiredService<BulkheadRegistry>(), new BulkheadSettings(name, options, ConsumerMessageTypes.For<TConsumer>())));
    }

    /// <summary>
    /// Adds a per-attempt timeout for one consumer of the endpoint: the consumer's cancellation token fires at
    /// <see cref="TimeoutOptions.Timeout"/> and the attempt fails with <see cref="ConsumerTimeoutException"/> (transient).
    /// Call after <c>UseBulkhead</c> and before <c>ConfigureConsumer</c>. Needs <see cref="AddWorkersBreakers"/>.
    /// </summary>
    /// <typeparam name="TConsumer">The consumer.</typeparam>
    /// <param name="configurator">The receive endpoint.</param>
    /// <param name="provider">The service provider (the <c>IBusRegistrationContext</c>).</param>
    /// <param name="configure">Changes the default options.</param>
    /// <param name="consumerName">Name in <see cref="ConsumerTimeoutRegistry"/>; the consumer type's full name by default.</param>
    public static void UseConsumerTimeout<TConsumer>(this IReceiveEndpointConfigurator configurator, IServiceProvider provider, Action<TimeoutOptions>? configure = null, string? consumerName = null)
        where TConsumer : class
    {
        var options = new TimeoutOptions();
        configure?.Invoke(options);
        UseConsumerTimeout<TConsumer>(configurator, provider, options, consumerName);
    }

    /// <summary>Adds a per-attempt timeout for one consumer of the endpoint with the given options (e.g. bound from configuration).</summary>
    /// <typeparam name="TConsumer">The consumer.</typeparam>
    /// <param name="configurator">The receive endpoint.</param>
    /// <param name="provider">The service provider (the <c>IBusRegistrationContext</c>).</param>
    /// <param name="options">The timeout's options.</param>
    /// <param name="consumerName">Name in <see cref="ConsumerTimeoutRegistry"/>; the consumer type's full name by default.</param>
    public static void UseConsumerTimeout<TConsumer>(this IReceiveEndpointConfigurator configurator, IServiceProvider provider, TimeoutOptions options, string? consumerName = null)
        where TConsumer : class
    {
        ArgumentNullException.ThrowIfNull(configurator);
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(options);
        var name = consumerName ?? typeof(TConsumer).FullName ?? typeof(TConsumer).Name;
        configurator.AddPipeSpecification(new TimeoutSpecification(provider.GetRequiredService<ConsumerTimeoutRegistry>(), new TimeoutSettings(name, options, ConsumerMessageTypes.For<TConsumer>())));
    }

    private static string QueueName(Uri inputAddress)
    {
        var path = inputAddress.AbsolutePath.TrimEnd('/');
        return Uri.UnescapeDataString(path[(path.LastIndexOf('/') + 1)..]);
    }
}
