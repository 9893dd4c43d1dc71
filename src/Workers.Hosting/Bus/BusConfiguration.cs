using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Workers.Hosting;

/// <summary>Builds MassTransit's registration and RabbitMQ transport from <see cref="WorkersOptions"/>.</summary>
internal static class BusConfiguration
{
    public static void Configure(IBusRegistrationConfigurator x, WorkersBuilder workers)
    {
        foreach (var consumer in workers.Consumers)
        {
            consumer.Register(x);
        }

        foreach (var action in workers.BusActions)
        {
            action(x);
        }

        x.UsingRabbitMq((context, cfg) =>
        {
            var options = context.GetRequiredService<IOptions<WorkersOptions>>().Value;
            ConfigureHost(cfg, options.RabbitMq);
            cfg.PrefetchCount = options.RabbitMq.PrefetchCount;
            cfg.Durable = true;
            cfg.AutoDelete = false;

            foreach (var action in workers.TransportActions)
            {
                action(context, cfg);
            }

            foreach (var consumer in workers.Consumers)
            {
                var settings = Settings(workers, options, consumer.QueueName);
                cfg.ReceiveEndpoint(consumer.QueueName, endpoint => consumer.ConfigureEndpoint(endpoint, context, settings));
            }

            // Anything registered through ConfigureBus (sagas, other consumers) gets MassTransit's conventions.
            cfg.ConfigureEndpoints(context);
        });
    }

    /// <summary>One endpoint's settings: its configuration, the defaults, and the classification rules given in code.</summary>
    internal static EffectiveEndpoint Settings(WorkersBuilder workers, WorkersOptions options, string queue)
    {
        var settings = EffectiveEndpoint.Resolve(options, queue, workers.InboxAvailable);
        if (workers.ClassificationFor(queue) is { Count: > 0 } rules)
        {
            settings = settings with { Classification = settings.Redelivery.Classification.With(rules) };
        }

        return settings;
    }

    internal static void ConfigureHost(IRabbitMqBusFactoryConfigurator cfg, RabbitMqOptions options)
    {
        if (!BrokerAddress.TryParse(options.Uri, out var address, out var error))
        {
            throw new InvalidOperationException($"Workers:RabbitMq:Uri {error}.");
        }

        cfg.Host(address.Host, (ushort)address.Port, address.VirtualHost, options.ConnectionName, h =>
        {
            h.Username(address.Username);
            h.Password(address.Password);
            h.PublisherConfirmation = options.PublisherConfirmation;
            h.Heartbeat(TimeSpan.FromSeconds(10));
            if (address.UseTls)
            {
                h.UseSsl(ssl => ssl.ServerName = address.Host);
            }

            if (options.ClusterNodes.Count > 0)
            {
                h.UseCluster(cluster =>
                {
                    cluster.Node($"{address.Host}:{address.Port}");
                    foreach (var node in options.ClusterNodes)
                    {
                        cluster.Node(node);
                    }
                });
            }
        });
    }
}
