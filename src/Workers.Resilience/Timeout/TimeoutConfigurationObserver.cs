using MassTransit;

namespace Workers.Resilience.Timeout;

/// <summary>Adds the consumer's timeout filter to each of its message types as they are configured.</summary>
internal sealed class TimeoutConfigurationObserver : IConsumerConfigurationObserver
{
    private readonly ConsumerTimeout timeout;
    private readonly ConsumerTimeoutRegistry registry;

    public TimeoutConfigurationObserver(ConsumerTimeout timeout, ConsumerTimeoutRegistry registry)
    {
        this.timeout = timeout;
        this.registry = registry;
    }

    public void ConsumerConfigured<TConsumer>(IConsumerConfigurator<TConsumer> configurator)
        where TConsumer : class
    {
    }

    public void ConsumerMessageConfigured<TConsumer, TMessage>(IConsumerMessageConfigurator<TConsumer, TMessage> configurator)
        where TConsumer : class
        where TMessage : class
    {
        configurator.Message(m => m.UseFilter(new ConsumerTimeoutFilter<TMessage>(timeout, registry.TimeProvider, registry.Logger)));
    }
}
