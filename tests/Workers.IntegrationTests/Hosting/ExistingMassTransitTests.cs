using System.Collections.Concurrent;
using System.Text;
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
/// Issue 18, "plays with MassTransit": an application that calls AddMassTransit itself, with a consumer definition,
/// adopts Workers through <c>UseExistingMassTransit</c> and <c>cfg.UseWorkers(context)</c>. On a vhost of its own: a
/// transient failure comes back through Workers' delay ladder, a permanent one lands in <c>&lt;queue&gt;_error</c> with
/// Workers' fault headers, and the application's ConfigureEndpoint filter saw every delivery.
/// </summary>
public sealed class ExistingMassTransitTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ApplicationBus_TransientRedeliveredThroughTheLadder_PermanentDeadLetteredWithFaultHeaders_HookFilterRan()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var vhost = new RabbitMqTestVhost();
        await vhost.InitializeAsync();
        var seen = new AppOrderLog();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Workers:RabbitMq:Uri"] = vhost.Uri.ToString(),
            ["Workers:RabbitMq:ManagementUri"] = vhost.ManagementUri.ToString(),
            ["Workers:ShutdownTimeout"] = "00:00:10",
            ["Workers:Defaults:Redelivery:MaxRedeliveryAttempts"] = "3",
            ["Workers:Defaults:Redelivery:ImmediateRetries"] = "0",
            ["Workers:Defaults:Redelivery:Delay"] = "00:00:00.200",
            ["Workers:Defaults:Redelivery:MaxDelay"] = "00:00:01",
        });
        builder.Services.AddSingleton(seen);

        // The application's own MassTransit registration, as it was before Workers.
        builder.Services.AddMassTransit(x =>
        {
            x.AddConsumer<AppOrderConsumer, AppOrderConsumerDefinition>();
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.UseWorkers(context);
                cfg.ConfigureEndpoints(context);
            });
        });
        builder.AddWorkers(w => w
            .UseExistingMassTransit()
            .ClassifyExceptions(c => c.Permanent<InvalidDataException>(), AppOrderConsumerDefinition.Queue)
            .ConfigureEndpoint(AppOrderConsumerDefinition.Queue, (e, context) => e.UseFilter(new AppOrderHookFilter(context.GetRequiredService<AppOrderLog>()))));
        using var host = builder.Build();
        await host.StartAsync(ct);

        var transient = new AppOrder(Guid.NewGuid(), Permanent: false);
        var permanent = new AppOrder(Guid.NewGuid(), Permanent: true);
        var bus = host.Services.GetRequiredService<IBus>();
        await bus.Publish(transient, ct);
        await bus.Publish(permanent, ct);

        await seen.Succeeded.Task.WaitAsync(Bound, ct);
        await vhost.WaitForReadyCountAsync(AppOrderConsumerDefinition.Queue + "_error", 1, Bound, ct);
        await host.StopAsync(ct);

        // The transient failure came back once through the ladder (Workers' redelivery count), then succeeded.
        Assert.Equal([0, 1], seen.Attempts(transient.Id));
        Assert.Equal([0], seen.Attempts(permanent.Id));
        // The hook's filter saw every delivery, ahead of the consumer.
        Assert.Equal(3, seen.HookDeliveries);

        var channel = await (await vhost.GetConnectionAsync(ct)).CreateChannelAsync(cancellationToken: ct);
        await using (channel)
        {
            var error = await channel.BasicGetAsync(AppOrderConsumerDefinition.Queue + "_error", autoAck: true, ct);
            Assert.NotNull(error);
            var headers = error.BasicProperties.Headers!;
            Assert.Equal("permanent", Text(headers[WorkersHeaders.FaultDisposition]));
            Assert.Equal(AppOrderConsumerDefinition.Queue, Text(headers[WorkersHeaders.FaultQueue]));
            Assert.Equal(typeof(InvalidDataException).FullName, Text(headers[WorkersHeaders.FaultExceptionType]));
            Assert.Contains(permanent.Id.ToString(), Encoding.UTF8.GetString(error.Body.Span), StringComparison.Ordinal);
        }
    }

    private static string? Text(object? value) => value is byte[] bytes ? Encoding.UTF8.GetString(bytes) : value?.ToString();
}

public sealed record AppOrder(Guid Id, bool Permanent);

public sealed class AppOrderLog
{
    private readonly ConcurrentDictionary<Guid, ConcurrentQueue<int>> attempts = new();
    private int hookDeliveries;

    public TaskCompletionSource Succeeded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int HookDeliveries => Volatile.Read(ref hookDeliveries);

    public void Hook() => Interlocked.Increment(ref hookDeliveries);

    public void Attempt(Guid id, int redeliveryCount) => attempts.GetOrAdd(id, _ => new ConcurrentQueue<int>()).Enqueue(redeliveryCount);

    public int[] Attempts(Guid id) => attempts.TryGetValue(id, out var queue) ? [.. queue] : [];
}

public sealed class AppOrderConsumer(AppOrderLog log) : IConsumer<AppOrder>
{
    public Task Consume(ConsumeContext<AppOrder> context)
    {
        var redeliveries = context.GetWorkersRedeliveryCount();
        log.Attempt(context.Message.Id, redeliveries);
        if (context.Message.Permanent)
        {
            throw new InvalidDataException("The order is malformed.");
        }

        if (redeliveries == 0)
        {
            throw new TimeoutException("The partner did not answer.");
        }

        log.Succeeded.TrySetResult();
        return Task.CompletedTask;
    }
}

public sealed class AppOrderConsumerDefinition : ConsumerDefinition<AppOrderConsumer>
{
    public const string Queue = "app-orders";

    public AppOrderConsumerDefinition()
    {
        EndpointName = Queue;
        ConcurrentMessageLimit = 4;
    }
}

public sealed class AppOrderHookFilter(AppOrderLog log) : IFilter<ConsumeContext>
{
    public Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        log.Hook();
        return next.Send(context);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("app-order-hook");
}
