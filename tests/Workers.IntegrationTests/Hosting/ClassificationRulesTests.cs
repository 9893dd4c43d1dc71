using System.Collections.Concurrent;
using System.Net;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Workers.Hosting;
using Workers.Resilience;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Hosting;

/// <summary>
/// Issue 18: classification by predicate, given in code through <c>AddWorkers</c>. "An HTTP 400 is permanent": such
/// orders are dead-lettered on their first attempt and never count as an outage for the endpoint's breaker, while a 503
/// of the same exception type is redelivered.
/// </summary>
public sealed class ClassificationRulesTests
{
    private const string Queue = "rules-orders";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task PermanentByPredicate_DeadLetteredOnTheFirstAttempt_NotCountedByTheBreaker_OtherStatusesRedelivered()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var vhost = new RabbitMqTestVhost();
        await vhost.InitializeAsync();
        var attempts = new StatusAttempts();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Workers:RabbitMq:Uri"] = vhost.Uri.ToString(),
            ["Workers:ShutdownTimeout"] = "00:00:10",
            ["Workers:Defaults:Redelivery:MaxRedeliveryAttempts"] = "2",
            ["Workers:Defaults:Redelivery:ImmediateRetries"] = "0",
            ["Workers:Defaults:Redelivery:Delay"] = "00:00:00.200",
            ["Workers:Defaults:Redelivery:MaxDelay"] = "00:00:01",
            [$"Workers:Endpoints:{Queue}:CircuitBreaker:MinimumThroughput"] = "5",
            [$"Workers:Endpoints:{Queue}:CircuitBreaker:FailureRatio"] = "0.5",
        });
        builder.Services.AddSingleton(attempts);
        builder.AddWorkers(w => w
            .AddConsumer<StatusOrderConsumer>(Queue)
            .ClassifyExceptions(c => c.Permanent<HttpRequestException>(e => e.StatusCode == HttpStatusCode.BadRequest), Queue));
        using var host = builder.Build();
        await host.StartAsync(ct);

        var bad = Enumerable.Range(0, 6).Select(_ => new StatusOrder(Guid.NewGuid(), 400)).ToList();
        var unavailable = new StatusOrder(Guid.NewGuid(), 503);
        var bus = host.Services.GetRequiredService<IBus>();
        foreach (var order in bad.Append(unavailable))
        {
            await bus.Publish(order, ct);
        }

        await vhost.WaitForReadyCountAsync(Queue + "_error", (uint)bad.Count + 1, Bound, ct);
        var breaker = host.Services.GetRequiredService<CircuitBreakerRegistry>().Find(Queue)!;
        await host.StopAsync(ct);

        Assert.All(bad, o => Assert.Equal(1, attempts.Of(o.Id)));
        Assert.Equal(3, attempts.Of(unavailable.Id));
        Assert.Equal(CircuitState.Closed, breaker.State);
        // Only the 503 counts, once: its redeliveries are the same message failing again, not new evidence of an outage.
        Assert.Equal(1, breaker.Failures);
    }

    [Fact]
    public void ClassifyExceptions_ForAQueueWithoutConsumer_IsRefusedWhenConfigured()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddWorkers(w => w
            .AddConsumer<StatusOrderConsumer>(Queue)
            .ClassifyExceptions(c => c.Permanent<HttpRequestException>(), "rules-order")));

        Assert.Contains("'rules-order', which no consumer reads; the endpoints are: 'rules-orders'", error.Message, StringComparison.Ordinal);
    }
}

public sealed record StatusOrder(Guid Id, int Status);

public sealed class StatusAttempts
{
    private readonly ConcurrentDictionary<Guid, int> attempts = new();

    public void Add(Guid id) => attempts.AddOrUpdate(id, 1, (_, n) => n + 1);

    public int Of(Guid id) => attempts.GetValueOrDefault(id);
}

public sealed class StatusOrderConsumer(StatusAttempts attempts) : IConsumer<StatusOrder>
{
    public Task Consume(ConsumeContext<StatusOrder> context)
    {
        attempts.Add(context.Message.Id);
        throw new HttpRequestException($"The partner answered {context.Message.Status}.", null, (HttpStatusCode)context.Message.Status);
    }
}
