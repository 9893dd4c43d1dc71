using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Workers.Resilience.Classification;

namespace Workers.Resilience.Tests.Integration.Breakers;

/// <summary>A MassTransit bus on a test vhost, with the breaker services registered, plus raw broker inspection.</summary>
internal sealed class BreakerTestBus : IAsyncDisposable
{
    private readonly ServiceProvider provider;

    private BreakerTestBus(ServiceProvider provider, IBusControl bus, Uri vhost)
    {
        this.provider = provider;
        Bus = bus;
        Vhost = vhost;
    }

    public IBusControl Bus { get; }

    public Uri Vhost { get; }

    public IServiceProvider Services => provider;

    public static async Task<BreakerTestBus> StartAsync(
        Uri vhost,
        Action<IServiceCollection> services,
        Action<IBusRegistrationConfigurator> register,
        Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator> configure,
        CancellationToken cancellationToken)
    {
        var collection = new ServiceCollection();
        collection.AddWorkersBreakers();
        services(collection);
        collection.AddMassTransit(x =>
        {
            register(x);
            x.UsingRabbitMq((context, cfg) =>
            {
                var user = vhost.UserInfo.Split(':');
                cfg.Host(vhost.Host, (ushort)vhost.Port, Uri.UnescapeDataString(vhost.AbsolutePath.TrimStart('/')), h =>
                {
                    h.Username(Uri.UnescapeDataString(user[0]));
                    h.Password(Uri.UnescapeDataString(user[1]));
                });
                configure(context, cfg);
            });
        });
        var provider = collection.BuildServiceProvider();
        var bus = provider.GetRequiredService<IBusControl>();
        await bus.StartAsync(cancellationToken);
        return new BreakerTestBus(provider, bus, vhost);
    }

    public async Task SendAsync<T>(string queue, IEnumerable<T> messages, CancellationToken cancellationToken)
        where T : class
    {
        var endpoint = await Bus.GetSendEndpoint(new Uri($"queue:{queue}"));
        foreach (var message in messages)
        {
            await endpoint.Send(message, cancellationToken);
        }
    }

    /// <summary>Sends all messages at once (concurrent publisher confirms), so that a measurement is bound by consumption.</summary>
    public async Task SendConcurrentlyAsync<T>(string queue, IEnumerable<T> messages, CancellationToken cancellationToken)
        where T : class
    {
        var endpoint = await Bus.GetSendEndpoint(new Uri($"queue:{queue}"));
        await Task.WhenAll(messages.Select(m => endpoint.Send(m, cancellationToken)));
    }

    /// <summary>Ready messages and consumers of a queue, read at once over AMQP (null when the queue does not exist).</summary>
    public async Task<(uint Ready, uint Consumers)?> InspectQueueAsync(string queue, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory { Uri = Vhost };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        try
        {
            var ok = await channel.QueueDeclarePassiveAsync(queue, cancellationToken);
            return (ok.MessageCount, ok.ConsumerCount);
        }
        catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 404)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await Bus.StopAsync(cts.Token);
        await provider.DisposeAsync();
    }

    /// <summary>Polls <paramref name="condition"/> until it holds (bounded), for states that have no event to wait on.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        while (!await condition())
        {
            try
            {
                await Task.Delay(50, cts.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"Timed out after {timeout} waiting for: {what}");
            }
        }
    }

    public static Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what, CancellationToken cancellationToken) =>
        WaitUntilAsync(() => Task.FromResult(condition()), timeout, what, cancellationToken);
}

/// <summary>
/// A stand-in for the redelivery stage (not on this branch): a transient failure is sent back to the queue as a copy
/// with <c>MT-Redelivery-Count</c> + 1 and the original acknowledged, up to a maximum, then rethrown (→ <c>_error</c>).
/// Requeue signals (<see cref="OperationCanceledException"/>) pass through untouched, as the real stage must do.
/// </summary>
internal sealed class BreakerStandInRedeliveryFilter<TMessage> : IFilter<ConsumeContext>
    where TMessage : class
{
    private readonly int maxRedeliveries;
    private int redelivered;

    public BreakerStandInRedeliveryFilter(int maxRedeliveries)
    {
        this.maxRedeliveries = maxRedeliveries;
    }

    public int Redelivered => Volatile.Read(ref redelivered);

    public ConcurrentQueue<Exception> Failures { get; } = new();

    public void Probe(ProbeContext context) => context.CreateFilterScope("stand-in-redelivery");

    public async Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        try
        {
            await next.Send(context);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Failures.Enqueue(ex);
            var count = context.GetRedeliveryCount();
            if (count >= maxRedeliveries || ExceptionClassifier.Default.Classify(ex) == FailureDisposition.DeadLetter || !context.TryGetMessage<TMessage>(out var typed))
            {
                throw;
            }

            var queue = await context.GetSendEndpoint(context.ReceiveContext.InputAddress);
            await queue.Send(typed.Message, s => s.Headers.Set(WorkersHeaders.RedeliveryCount, count + 1));
            Interlocked.Increment(ref redelivered);
        }
    }
}
