using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Workers.Benchmarks.Infrastructure;

namespace Workers.Benchmarks.Contenders;

/// <summary>How one MassTransit contender is configured; null means MassTransit's own default.</summary>
internal sealed record MassTransitSettings(string Name, int? PrefetchCount = null, int? ConcurrentMessageLimit = null, bool RawJson = false)
{
    /// <summary>MassTransit 8.5.12 exactly as a new user gets it: no prefetch, concurrency or serializer set.</summary>
    public static MassTransitSettings Defaults { get; } = new("masstransit-default");

    /// <summary>Prefetch matched to the raw client's, concurrency = prefetch.</summary>
    public static MassTransitSettings Tuned { get; } = new("masstransit-tuned", RawContender.DefaultPrefetch, RawContender.DefaultPrefetch);

    public string Describe() =>
        $"MassTransit 8.5.12; prefetch {PrefetchCount?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default"}; " +
        $"ConcurrentMessageLimit {ConcurrentMessageLimit?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default (= prefetch)"}; " +
        $"serializer {(RawJson ? "raw JSON" : "default envelope JSON")}; publisher confirms on; failure = UseMessageRetry(Immediate(1))";
}

/// <summary>
/// MassTransit 8.5.12 on RabbitMQ, hosted the way an application hosts it (generic host + <c>AddMassTransit</c>).
/// The producer sends to <c>queue:NAME</c> with publisher confirmation; the consumer is a receive endpoint on that queue.
/// </summary>
internal sealed class MassTransitContender(MassTransitSettings settings) : Contender
{
    public override string Name => settings.Name;

    public override string Settings => settings.Describe();

    public override async Task<IBenchProducer> StartProducerAsync(BenchVhost vhost, string queue, CancellationToken cancellationToken)
    {
        var host = BuildHost($"bench-{settings.Name}-producer", services => services.AddMassTransit(x =>
            x.UsingRabbitMq((_, cfg) =>
            {
                ConfigureHost(cfg, vhost);
                if (settings.RawJson)
                {
                    cfg.UseRawJsonSerializer();
                }
            })));
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        var bus = host.Services.GetRequiredService<IBus>();
        var endpoint = await bus.GetSendEndpoint(new Uri($"queue:{queue}")).ConfigureAwait(false);
        return new Producer(host, endpoint);
    }

    public override async Task<IAsyncDisposable> StartConsumerAsync(BenchVhost vhost, string queue, ConsumeProbe probe, bool failures, CancellationToken cancellationToken)
    {
        var host = BuildHost($"bench-{settings.Name}-consumer", services =>
        {
            services.AddSingleton(probe);
            services.AddMassTransit(x =>
            {
                x.AddConsumer<MassTransitBenchConsumer>();
                x.UsingRabbitMq((context, cfg) =>
                {
                    ConfigureHost(cfg, vhost);
                    if (settings.RawJson)
                    {
                        cfg.UseRawJsonSerializer();
                    }

                    cfg.ReceiveEndpoint(queue, e =>
                    {
                        if (settings.PrefetchCount is { } prefetch)
                        {
                            e.PrefetchCount = prefetch;
                        }

                        if (settings.ConcurrentMessageLimit is { } limit)
                        {
                            e.ConcurrentMessageLimit = limit;
                        }

                        if (failures)
                        {
                            e.UseMessageRetry(r => r.Immediate(1));
                        }

                        e.ConfigureConsumer<MassTransitBenchConsumer>(context);
                    });
                });
            });
        });
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        return new HostStopper(host);
    }

    internal static void ConfigureHost(IRabbitMqBusFactoryConfigurator cfg, BenchVhost vhost)
    {
        var uri = vhost.Uri;
        var parts = Uri.UnescapeDataString(uri.UserInfo).Split(':', 2);
        cfg.Host(uri.Host, (ushort)uri.Port, vhost.Name, h =>
        {
            h.Username(parts[0]);
            h.Password(parts.Length > 1 ? parts[1] : string.Empty);
            h.PublisherConfirmation = true;
        });
    }

    /// <summary>A generic host with quiet logging and MassTransit waiting until its endpoints are ready.</summary>
    internal static IHost BuildHost(string name, Action<IServiceCollection> configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ApplicationName = name });
        builder.Logging.SetMinimumLevel(LogLevel.Warning).AddFilter("MassTransit", LogLevel.Error).AddFilter("Wolverine", LogLevel.Error).AddFilter("Workers.Benchmarks", LogLevel.None).AddSimpleConsole(o => o.SingleLine = true);
        builder.Services.Insert(0, ServiceDescriptor.Singleton<IHostedService, MassTransitLogContextBinder>());
        builder.Services.Configure<MassTransitHostOptions>(o =>
        {
            o.WaitUntilStarted = true;
            o.StartTimeout = TimeSpan.FromSeconds(60);
            o.StopTimeout = TimeSpan.FromSeconds(30);
        });
        configure(builder.Services);
        return builder.Build();
    }

    private sealed class Producer(IHost host, ISendEndpoint endpoint) : IBenchProducer
    {
        public Task PublishAsync(BenchMessage message, CancellationToken cancellationToken) => endpoint.Send(message, cancellationToken);

        public async ValueTask DisposeAsync() => await HostStopper.StopAsync(host).ConfigureAwait(false);
    }
}

/// <summary>The MassTransit consumer (also used by the Workers contender): hands the message to the probe.</summary>
internal sealed class MassTransitBenchConsumer(ConsumeProbe probe) : IConsumer<BenchMessage>
{
    public Task Consume(ConsumeContext<BenchMessage> context)
    {
        probe.Consume(context.Message);
        return Task.CompletedTask;
    }
}

/// <summary>
/// Binds MassTransit's ambient log context to this host's logger factory before the bus is created, so that
/// hosts started one after another in this process never log through a disposed factory.
/// </summary>
internal sealed class MassTransitLogContextBinder : IHostedService
{
    public MassTransitLogContextBinder(ILoggerFactory loggerFactory) => LogContext.ConfigureCurrentLogContext(loggerFactory);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Stops and disposes a host.</summary>
internal sealed class HostStopper(IHost host) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => new(StopAsync(host));

    public static async Task StopAsync(IHost host)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await host.StopAsync(cts.Token).ConfigureAwait(false);
        if (host is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            host.Dispose();
        }
    }
}
