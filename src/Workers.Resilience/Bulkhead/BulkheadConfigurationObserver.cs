using MassTransit;

namespace Workers.Resilience.Bulkhead;

/// <summary>Adds the consumer's bulkhead filter to each of its message types as they are configured.</summary>
internal sealed class BulkheadConfigurationObserver : IConsumerConfigurationObserver
{
    private readonly ConsumerBulkhead bulkhead;

    public BulkheadConfigurationObserver(ConsumerBulkhead bulkhead)
    {
        this.bulkhead = bulkhead;
    }

    public void ConsumerConfigured<TConsumer>(IConsumerConfigurator<TConsumer> configurator)
        where TConsumer : class
    {
    }

    public void ConsumerMessageConfigured<TConsumer, TMessage>(IConsumerMessageConfigurator<TConsumer, TMessage> configurator)
        where TConsumer : class
        where TMessage : class
    {
        configurator.Message(m => m.UseFilter(new BulkheadFilter<TMessage>(bulkhead)));
    }
}
