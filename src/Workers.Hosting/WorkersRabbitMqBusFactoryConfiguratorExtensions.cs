using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Workers.Hosting;

/// <summary>
/// For an application that registers MassTransit itself: <c>cfg.UseWorkers(context)</c> in its <c>UsingRabbitMq</c>,
/// with <c>builder.AddWorkers(w =&gt; w.UseExistingMassTransit())</c>.
/// </summary>
public static class WorkersRabbitMqBusFactoryConfiguratorExtensions
{
    /// <summary>
    /// Connects the application's bus the way Workers does: the host from <c>Workers:RabbitMq</c> (<c>Uri</c> or
    /// <c>WORKERS_RABBITMQ_URI</c>, cluster nodes, publisher confirms, heartbeat, TLS, connection name), durable
    /// queues, the prefetch count. Workers' own broker connection (delay ladder, error queues, preflights, watchdog)
    /// uses the same setting, so both reach one virtual host; do not call <c>cfg.Host(...)</c> as well (a host set
    /// after this one is refused at start unless it names the same host, port and virtual host). Call it before
    /// <c>cfg.ConfigureEndpoints(context)</c>, which then gives every consumer endpoint Workers' pipeline.
    /// </summary>
    /// <param name="configurator">The RabbitMQ bus configurator.</param>
    /// <param name="context">The bus registration context.</param>
    public static void UseWorkers(this IRabbitMqBusFactoryConfigurator configurator, IBusRegistrationContext context)
    {
        ArgumentNullException.ThrowIfNull(configurator);
        ArgumentNullException.ThrowIfNull(context);
        var state = context.GetService<ExistingBusState>()
            ?? throw new InvalidOperationException("cfg.UseWorkers(context) needs builder.AddWorkers(w => w.UseExistingMassTransit()).");
        var options = context.GetRequiredService<IOptions<WorkersOptions>>().Value;
        BusConfiguration.ConfigureHost(configurator, options.RabbitMq);
        configurator.PrefetchCount = options.RabbitMq.PrefetchCount;
        configurator.Durable = true;
        configurator.AutoDelete = false;
        state.UseWorkersCalled = true;
    }
}
