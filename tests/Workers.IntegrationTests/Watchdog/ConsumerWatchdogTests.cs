using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Workers.Hosting;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Watchdog;

/// <summary>
/// Endpoints that stop consuming on a real broker: MassTransit's own recovery after the broker cancelled the consumer,
/// and the consumer watchdog's restart of an endpoint found stuck.
/// </summary>
public sealed class ConsumerWatchdogTests : IClassFixture<RabbitMqTestVhost>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly RabbitMqTestVhost vhost;

    public ConsumerWatchdogTests(RabbitMqTestVhost vhost)
    {
        this.vhost = vhost;
    }

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task QueueDeletedUnderTheConsumer_EndpointConsumesAgain()
    {
        var queue = $"watchdog-{Guid.NewGuid():N}"[..20];
        var log = new ListLogger();
        using var host = BuildHost(queue, log);
        await host.StartAsync(Cancel);
        try
        {
            await Scenario(host, queue);
        }
        finally
        {
            TestContext.Current.TestOutputHelper?.WriteLine(string.Join("\n", log.Lines));
        }

        await host.StopAsync(Cancel);
    }

    private async Task Scenario(IHost host, string queue)
    {
        await vhost.WaitForQueueAsync(queue, q => q.Consumers == 1, Bound, Cancel);

        // The broker cancels the consumer (basic.cancel) when its queue is deleted.
        (await vhost.Management.DeleteAsync($"api/queues/{Uri.EscapeDataString(vhost.Name)}/{Uri.EscapeDataString(queue)}", Cancel)).EnsureSuccessStatusCode();
        var probe = Guid.NewGuid();
        await Eventually.HoldsAsync(async () =>
        {
            var info = await vhost.GetQueueAsync(queue, Cancel);
            return info is { Consumers: 1 };
        }, Bound, "a consumer on the queue again", Cancel);
        var bus = host.Services.GetRequiredService<IBus>();
        var endpoint = await bus.GetSendEndpoint(new Uri($"queue:{queue}"));
        await endpoint.Send(new WatchdogPing(probe), Cancel);
        await Eventually.HoldsAsync(() => Task.FromResult(PingConsumer.Seen.ContainsKey(probe)), Bound, "the ping consumed", Cancel);
    }

    [Fact]
    public async Task EndpointFoundStuck_IsStoppedAndStartedByTheWatchdog_AndConsumesAgain()
    {
        var queue = $"watchdog-{Guid.NewGuid():N}"[..20];
        var log = new ListLogger();
        using var host = BuildHost(queue, log);
        await host.StartAsync(Cancel);
        try
        {
            await vhost.WaitForQueueAsync(queue, q => q.Consumers == 1, Bound, Cancel);
            var activity = host.Services.GetRequiredService<EndpointActivityRegistry>().For(queue);
            var readyBefore = activity.Snapshot().ReadySince;

            // The broker's view is replaced by a stuck one (messages waiting, no consumer), and the clock is a minute
            // ahead: the restart itself runs against the real MassTransit endpoint.
            var later = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow.AddMinutes(1));
            var watchdog = new ConsumerWatchdog(
                host.Services.GetRequiredService<EndpointActivityRegistry>(),
                (_, _) => Task.FromResult<(uint, uint)?>((5, 0)),
                host.Services.GetRequiredService<Workers.Resilience.CircuitBreakerRegistry>(),
                new ConsumerWatchdogOptions { StallTimeout = TimeSpan.FromSeconds(30) },
                later,
                host.Services.GetRequiredService<ILogger<ConsumerWatchdogTests>>());
            Assert.False(await watchdog.InspectAsync(activity, Cancel));
            Assert.True(await watchdog.InspectAsync(activity, Cancel));

            Assert.True(activity.Snapshot() is { Ready: true } snapshot && snapshot.ReadySince > readyBefore, "the endpoint was ready again after the restart");
            await vhost.WaitForQueueAsync(queue, q => q.Consumers == 1, Bound, Cancel);
            var probe = Guid.NewGuid();
            var endpoint = await host.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri($"queue:{queue}"));
            await endpoint.Send(new WatchdogPing(probe), Cancel);
            await Eventually.HoldsAsync(() => Task.FromResult(PingConsumer.Seen.ContainsKey(probe)), Bound, "the ping consumed after the restart", Cancel);
            Assert.Contains(log.Lines, l => l.Contains("[6001] Endpoint " + queue + " is stuck", StringComparison.Ordinal));
            Assert.Contains(log.Lines, l => l.Contains("[6002] Endpoint " + queue + " restarted", StringComparison.Ordinal));
        }
        finally
        {
            TestContext.Current.TestOutputHelper?.WriteLine(string.Join("\n", log.Lines));
        }

        await host.StopAsync(Cancel);
    }

    private IHost BuildHost(string queue, ListLogger log)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Workers:RabbitMq:Uri"] = vhost.Uri.ToString(),
            ["Workers:ConsumerWatchdog:Interval"] = "00:00:01",
            ["Workers:ConsumerWatchdog:StallTimeout"] = "00:00:02",
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(log);
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.AddWorkers(w => w.AddConsumer<PingConsumer>(queue));
        return builder.Build();
    }

    public sealed record WatchdogPing(Guid Id);

    public sealed class PingConsumer : IConsumer<WatchdogPing>
    {
        public static readonly ConcurrentDictionary<Guid, int> Seen = new();

        public Task Consume(ConsumeContext<WatchdogPing> context)
        {
            Seen.AddOrUpdate(context.Message.Id, 1, (_, n) => n + 1);
            return Task.CompletedTask;
        }
    }

    private sealed class ListLogger : ILoggerProvider, ILogger
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => this;

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue($"{logLevel} [{eventId.Id}] {formatter(state, exception)}");
    }
}
