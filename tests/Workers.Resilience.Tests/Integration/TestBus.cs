using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Workers.Resilience.Tests.Integration;

/// <summary>A MassTransit bus on a test vhost, wired the way a host wires the redelivery stage.</summary>
internal sealed class TestBus : IAsyncDisposable
{
    private TestBus(ServiceProvider provider, IBusControl bus)
    {
        Provider = provider;
        Bus = bus;
    }

    public ServiceProvider Provider { get; }

    public IBusControl Bus { get; }

    public static Task<TestBus> StartAsync(Uri brokerUri, Action<IRabbitMqBusFactoryConfigurator, IBusRegistrationContext> configure, CancellationToken cancellationToken) =>
        StartAsync(brokerUri, time: null, configure, cancellationToken);

    /// <summary>As <see cref="StartAsync(Uri, Action{IRabbitMqBusFactoryConfigurator, IBusRegistrationContext}, CancellationToken)"/>, on the clock <paramref name="time"/>.</summary>
    public static async Task<TestBus> StartAsync(Uri brokerUri, TimeProvider? time, Action<IRabbitMqBusFactoryConfigurator, IBusRegistrationContext> configure, CancellationToken cancellationToken)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        services.AddWorkersRedelivery(brokerUri);
        services.AddMassTransit(x => x.UsingRabbitMq((context, cfg) =>
        {
            var credentials = Uri.UnescapeDataString(brokerUri.UserInfo).Split(':', 2);
            var vhost = Uri.UnescapeDataString(brokerUri.AbsolutePath.TrimStart('/'));
            cfg.Host(brokerUri.Host, (ushort)brokerUri.Port, vhost.Length == 0 ? "/" : vhost, h =>
            {
                h.Username(credentials[0]);
                h.Password(credentials[1]);
            });
            configure(cfg, context);
        }));
        var provider = services.BuildServiceProvider();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));

        // As a host does: the hosted services registered by AddWorkersRedelivery (broker check + ladder) run before the bus starts.
        foreach (var hosted in provider.GetServices<IHostedService>())
        {
            await hosted.StartAsync(timeout.Token);
        }

        var bus = provider.GetRequiredService<IBusControl>();
        await bus.StartAsync(timeout.Token);
        return new TestBus(provider, bus);
    }

    public async Task SendAsync<T>(string queue, T message, Guid messageId, Guid? correlationId = null, string? tenant = null)
        where T : class
    {
        var endpoint = await Bus.GetSendEndpoint(new Uri($"queue:{queue}"));
        await endpoint.Send(message, context =>
        {
            context.MessageId = messageId;
            context.CorrelationId = correlationId;
            if (tenant is not null)
            {
                context.Headers.Set("tenant", tenant);
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await Bus.StopAsync(timeout.Token);
        }
        finally
        {
            await Provider.DisposeAsync();
        }
    }
}
