using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Workers.Testing;
using Xunit;

namespace Workers.Resilience.Tests.Integration.Breakers;

public sealed record BreakerMessage(int Id);

/// <summary>The downstream dependency the consumer calls: made to fail, then to recover.</summary>
public sealed class FlakyDependency
{
    private volatile bool healthy;

    public bool Healthy
    {
        get => healthy;
        set => healthy = value;
    }

    public ConcurrentDictionary<int, int> Consumed { get; } = new();

    public ConcurrentDictionary<int, int> RedeliveryCounts { get; } = new();

    public int Calls;

    public void Call(int id, int redeliveryCount)
    {
        Interlocked.Increment(ref Calls);
        if (!healthy)
        {
            throw new HttpRequestException("dependency unavailable");
        }

        Consumed.AddOrUpdate(id, 1, (_, n) => n + 1);
        RedeliveryCounts[id] = redeliveryCount;
    }
}

public sealed class BreakerConsumer(FlakyDependency dependency) : IConsumer<BreakerMessage>
{
    public async Task Consume(ConsumeContext<BreakerMessage> context)
    {
        await Task.Yield();
        dependency.Call(context.Message.Id, context.GetRedeliveryCount());
    }
}

public sealed class BreakerIntegrationTests(RabbitMqTestVhost vhost, ITestOutputHelper output) : IClassFixture<RabbitMqTestVhost>
{
    private const string Queue = "breaker-orders";
    private const int Messages = 40;

    [Fact]
    public async Task DependencyOutage_PausesTheEndpointWithoutLosingOrBurningMessages_ThenEachIsConsumedOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var dependency = new FlakyDependency { Healthy = false };
        var redelivery = new BreakerStandInRedeliveryFilter<BreakerMessage>(maxRedeliveries: 3);
        await using var bus = await BreakerTestBus.StartAsync(
            vhost.Uri,
            s => s.AddSingleton(dependency),
            x => x.AddConsumer<BreakerConsumer>(),
            (context, cfg) => cfg.ReceiveEndpoint(Queue, e =>
            {
                e.PrefetchCount = 8;
                e.ConcurrentMessageLimit = 4;
                e.UseFilter(redelivery);
                e.UseEndpointCircuitBreaker(context, o =>
                {
                    o.MinimumThroughput = 3;
                    o.FailureRatio = 0.5;
                    o.SamplingDuration = TimeSpan.FromSeconds(30);
                    o.BreakDuration = TimeSpan.FromMilliseconds(300);
                    o.BreakDurationFactor = 2;
                    o.MaxBreakDuration = TimeSpan.FromSeconds(2);
                });
                e.ConfigureConsumer<BreakerConsumer>(context);
            }),
            ct);
        var registry = bus.Services.GetRequiredService<CircuitBreakerRegistry>();

        await bus.SendAsync(Queue, Enumerable.Range(1, Messages).Select(i => new BreakerMessage(i)), ct);

        // Opened: the endpoint stops consuming and every message is back in the queue.
        await BreakerTestBus.WaitUntilAsync(() => registry.Find(Queue)?.State == CircuitState.Open, TimeSpan.FromSeconds(30), "breaker open", ct);
        await BreakerTestBus.WaitUntilAsync(
            async () => await bus.InspectQueueAsync(Queue, ct) is { Consumers: 0, Ready: Messages },
            TimeSpan.FromSeconds(30), "endpoint paused with every message ready", ct);
        var redeliveredAtTrip = redelivery.Redelivered;
        output.WriteLine($"opened after {dependency.Calls} calls; {redeliveredAtTrip} message(s) counted an attempt before the trip");
        Assert.InRange(redeliveredAtTrip, 0, 2); // only failures before the trip count (MinimumThroughput - 1 at most)

        // Half-open probes keep failing: the breaker reopens with growing breaks; nothing is consumed, nothing burns an attempt.
        await BreakerTestBus.WaitUntilAsync(() => registry.Find(Queue) is { ConsecutiveBreaks: >= 3, State: CircuitState.Open }, TimeSpan.FromSeconds(30), "three consecutive breaks", ct);
        await BreakerTestBus.WaitUntilAsync(
            async () => await bus.InspectQueueAsync(Queue, ct) is { Consumers: 0, Ready: Messages },
            TimeSpan.FromSeconds(30), "endpoint paused again with every message ready", ct);
        Assert.Equal(redeliveredAtTrip, redelivery.Redelivered);
        Assert.Empty(dependency.Consumed);
        Assert.Null(await bus.InspectQueueAsync(Queue + "_error", ct));
        var health = bus.Bus.CheckHealth();
        output.WriteLine($"MassTransit bus health while the breaker holds the endpoint: {health.Status} ({health.Description})");
        output.WriteLine($"after {registry.Find(Queue)!.ConsecutiveBreaks} breaks: {dependency.Calls} calls, queue still holds {Messages}");

        // Recovery: the next probe succeeds, the breaker closes and every message is consumed exactly once.
        dependency.Healthy = true;
        await BreakerTestBus.WaitUntilAsync(() => dependency.Consumed.Count == Messages, TimeSpan.FromSeconds(30), "every message consumed", ct);
        await BreakerTestBus.WaitUntilAsync(async () => await bus.InspectQueueAsync(Queue, ct) is { Ready: 0 }, TimeSpan.FromSeconds(10), "queue drained", ct);

        Assert.Equal(CircuitState.Closed, registry.Find(Queue)!.State);
        Assert.Equal(Enumerable.Range(1, Messages), dependency.Consumed.Keys.Order()); // nothing lost
        Assert.Equal(redeliveredAtTrip, redelivery.Redelivered); // no attempt burned after the trip
        Assert.All(dependency.RedeliveryCounts.Values, c => Assert.InRange(c, 0, 1)); // requeues left MT-Redelivery-Count alone
        // A message redelivered before the trip is sent again before its original is acked (at-least-once, as the real
        // redelivery stage): when the breaker stops the endpoint in that window the ack is lost and both copies run.
        // Only those few may run twice; the outage itself duplicates nothing.
        var twice = dependency.Consumed.Count(pair => pair.Value > 1);
        Assert.InRange(twice, 0, redeliveredAtTrip);
        Assert.All(dependency.Consumed, pair => Assert.InRange(pair.Value, 1, 2));
        Assert.Null(await bus.InspectQueueAsync(Queue + "_error", ct));
        Assert.Equal(1u, (await bus.InspectQueueAsync(Queue, ct))!.Value.Consumers);
    }

    [Fact]
    public async Task SharedDependencyBreaker_PausesEveryEndpointThatUsesIt_AndResumesThemTogether()
    {
        var ct = TestContext.Current.CancellationToken;
        var dependency = new FlakyDependency { Healthy = false };
        await using var bus = await BreakerTestBus.StartAsync(
            vhost.Uri,
            s => s.AddSingleton(dependency),
            x =>
            {
                x.AddConsumer<BreakerConsumer>();
                x.AddConsumer<PaymentConsumer>();
            },
            (context, cfg) =>
            {
                void Breaker(IReceiveEndpointConfigurator e) => e.UseEndpointCircuitBreaker(context, o =>
                {
                    o.Name = "payments-api";
                    o.MinimumThroughput = 1;
                    o.FailureRatio = 1;
                    o.BreakDuration = TimeSpan.FromMilliseconds(300);
                });
                cfg.ReceiveEndpoint("dep-orders", e =>
                {
                    Breaker(e);
                    e.ConfigureConsumer<BreakerConsumer>(context);
                });
                cfg.ReceiveEndpoint("dep-refunds", e =>
                {
                    Breaker(e);
                    e.ConfigureConsumer<PaymentConsumer>(context);
                });
            },
            ct);
        var registry = bus.Services.GetRequiredService<CircuitBreakerRegistry>();
        Assert.Equal(2, Assert.Single(registry.GetSnapshots()).Endpoints.Count);

        // Only the orders endpoint meets the outage; the refunds endpoint pauses with it.
        await bus.SendAsync("dep-orders", [new BreakerMessage(1)], ct);
        await BreakerTestBus.WaitUntilAsync(
            async () => await bus.InspectQueueAsync("dep-orders", ct) is { Consumers: 0, Ready: 1 } && await bus.InspectQueueAsync("dep-refunds", ct) is { Consumers: 0 },
            TimeSpan.FromSeconds(30), "both endpoints paused", ct);
        await bus.SendAsync("dep-refunds", Enumerable.Range(1001, 5).Select(i => new PaymentMessage(i)), ct);
        Assert.Empty(dependency.Consumed);

        dependency.Healthy = true;
        await BreakerTestBus.WaitUntilAsync(() => dependency.Consumed.Count == 6, TimeSpan.FromSeconds(30), "every message consumed", ct);
        Assert.Equal(CircuitState.Closed, registry.Find("payments-api")!.State);
        Assert.All(dependency.Consumed.Values, n => Assert.Equal(1, n));
        Assert.Equal(1u, (await bus.InspectQueueAsync("dep-orders", ct))!.Value.Consumers);
        Assert.Equal(1u, (await bus.InspectQueueAsync("dep-refunds", ct))!.Value.Consumers);
        Assert.Null(await bus.InspectQueueAsync("dep-orders_error", ct));
    }

    [Fact]
    public async Task PermanentFailures_AreDeadLettered_AndDoNotTripTheBreaker()
    {
        var ct = TestContext.Current.CancellationToken;
        const string queue = "breaker-poison";
        var redelivery = new BreakerStandInRedeliveryFilter<PoisonMessage>(maxRedeliveries: 3);
        await using var bus = await BreakerTestBus.StartAsync(
            vhost.Uri,
            _ => { },
            x => x.AddConsumer<PoisonConsumer>(),
            (context, cfg) => cfg.ReceiveEndpoint(queue, e =>
            {
                e.UseFilter(redelivery);
                e.UseEndpointCircuitBreaker(context, o => { o.MinimumThroughput = 2; o.FailureRatio = 0.1; });
                e.ConfigureConsumer<PoisonConsumer>(context);
            }),
            ct);
        var registry = bus.Services.GetRequiredService<CircuitBreakerRegistry>();

        await bus.SendAsync(queue, Enumerable.Range(1, 10).Select(i => new PoisonMessage(i)), ct);

        await BreakerTestBus.WaitUntilAsync(async () => await bus.InspectQueueAsync(queue + "_error", ct) is { Ready: 10 }, TimeSpan.FromSeconds(30), "ten messages dead-lettered", ct);
        Assert.Equal(CircuitState.Closed, registry.Find(queue)!.State);
        Assert.Equal((0, 0), (registry.Find(queue)!.Successes, registry.Find(queue)!.Failures));
        Assert.Equal(0, redelivery.Redelivered);
        Assert.Equal(1u, (await bus.InspectQueueAsync(queue, ct))!.Value.Consumers);

        // The bus observer registered by AddWorkersBreakers tells the breakers when the bus stops.
        Assert.True(registry.Get(queue)!.BusRunning);
        await bus.Bus.StopAsync(ct);
        Assert.False(registry.Get(queue)!.BusRunning);
    }

    [Fact]
    public async Task EndpointClassifiedPermanentFailures_AreDeadLetteredByRedelivery_AndNotCountedByTheBreaker()
    {
        // One classifier per endpoint: the exception is only permanent because the endpoint's redelivery options say so
        // (the built-in rules call it transient), and the breaker must agree with redelivery.
        var ct = TestContext.Current.CancellationToken;
        const string queue = "breaker-declared-permanent";
        var redelivery = new RedeliveryOptions { Delay = TimeSpan.FromMilliseconds(200), MaxDelay = TimeSpan.FromSeconds(1) };
        redelivery.Classification.PermanentExceptions.Add(typeof(DeclinedCardException).FullName!);
        await using var bus = await BreakerTestBus.StartAsync(
            vhost.Uri,
            services => services.AddWorkersRedelivery(vhost.Uri),
            x => x.AddConsumer<DeclinedCardConsumer>(),
            (context, cfg) => cfg.ReceiveEndpoint(queue, e =>
            {
                e.UseWorkersRedelivery(context, redelivery);
                e.UseEndpointCircuitBreaker(context, o => { o.MinimumThroughput = 2; o.FailureRatio = 0.1; });
                e.ConfigureConsumer<DeclinedCardConsumer>(context);
            }),
            ct);
        var registry = bus.Services.GetRequiredService<CircuitBreakerRegistry>();

        await bus.SendAsync(queue, Enumerable.Range(1, 10).Select(i => new DeclinedCardMessage(i)), ct);

        await BreakerTestBus.WaitUntilAsync(async () => await bus.InspectQueueAsync(queue + "_error", ct) is { Ready: 10 }, TimeSpan.FromSeconds(30), "ten messages dead-lettered", ct);
        var snapshot = registry.Find(queue)!;
        Assert.Equal(CircuitState.Closed, snapshot.State);
        Assert.Equal(0, snapshot.Failures);
        Assert.Equal(0, snapshot.ConsecutiveBreaks);
    }
}

public sealed record DeclinedCardMessage(int Id);

public sealed class DeclinedCardException(string message) : Exception(message);

public sealed class DeclinedCardConsumer : IConsumer<DeclinedCardMessage>
{
    public Task Consume(ConsumeContext<DeclinedCardMessage> context) => throw new DeclinedCardException($"card of order {context.Message.Id} declined");
}

public sealed record PaymentMessage(int Id);

public sealed class PaymentConsumer(FlakyDependency dependency) : IConsumer<PaymentMessage>
{
    public async Task Consume(ConsumeContext<PaymentMessage> context)
    {
        await Task.Yield();
        dependency.Call(context.Message.Id, context.GetRedeliveryCount());
    }
}

public sealed record PoisonMessage(int Id);

public sealed class PoisonConsumer : IConsumer<PoisonMessage>
{
    public Task Consume(ConsumeContext<PoisonMessage> context) => throw new PermanentFailureException($"message {context.Message.Id} can never succeed");
}
