using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using MassTransit;
using RabbitMQ.Client;
using Workers.Cli.Publish;
using Workers.Cli.Tests.Contracts;
using Workers.Testing;
using Xunit;

namespace Workers.Cli.Tests.Support;

/// <summary>Raw AMQP helpers and a MassTransit bus for the tests of one vhost.</summary>
internal sealed class TestBroker : IAsyncDisposable
{
    private readonly IConnection connection;

    private TestBroker(RabbitMqTestVhost vhost, IConnection connection)
    {
        Vhost = vhost;
        this.connection = connection;
    }

    public RabbitMqTestVhost Vhost { get; }

    public string[] Args(params string[] args) => [.. args, "--rabbitmq", Vhost.Uri.ToString()];

    public static async Task<TestBroker> ConnectAsync(RabbitMqTestVhost vhost)
    {
        var factory = new ConnectionFactory { Uri = vhost.Uri, AutomaticRecoveryEnabled = false };
        return new TestBroker(vhost, await factory.CreateConnectionAsync());
    }

    public async Task DeclareQueueAsync(string queue, IDictionary<string, object?>? arguments = null)
    {
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments);
    }

    /// <summary>
    /// The message ids of a classic queue in order, leaving it as it was: every message is held, then all are returned
    /// at once (a classic queue puts them back at their positions); waits until the broker shows them all again.
    /// </summary>
    public async Task<List<string>> PeekIdsAsync(string queue)
    {
        var ids = new List<string>();
        await using (var channel = await connection.CreateChannelAsync())
        {
            ulong last = 0;
            while (await channel.BasicGetAsync(queue, autoAck: false) is { } result)
            {
                ids.Add(result.BasicProperties.MessageId ?? "?");
                last = result.DeliveryTag;
            }

            if (last > 0)
            {
                await channel.BasicNackAsync(last, multiple: true, requeue: true);
            }
        }

        await WaitForReadyAsync(queue, n => n >= ids.Count, TimeSpan.FromSeconds(30));
        return ids;
    }

    public async Task<uint> ReadyCountAsync(string queue)
    {
        await using var channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
    }

    /// <summary>Polls the ready count until the condition holds (bounded).</summary>
    public async Task WaitForReadyAsync(string queue, Func<uint, bool> condition, TimeSpan timeout)
    {
        var started = DateTime.UtcNow;
        uint last;
        while (!condition(last = await CountOrZeroAsync(queue)))
        {
            if (DateTime.UtcNow - started > timeout)
            {
                throw new TimeoutException($"queue '{queue}' stayed at {last} ready message(s) for {timeout}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Publishes raw bytes to a queue (default exchange) with the given content type and headers, as any producer could.</summary>
    public async Task PublishRawAsync(string queue, string messageId, string contentType, byte[] body, IDictionary<string, object?> headers)
    {
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        var properties = new BasicProperties { MessageId = messageId, ContentType = contentType, DeliveryMode = DeliveryModes.Persistent, Headers = headers };
        await channel.BasicPublishAsync(string.Empty, queue, mandatory: true, properties, body);
    }

    /// <summary>A dead letter as our dead-letter middleware writes it: MassTransit envelope + Workers-Fault-* headers.</summary>
    public async Task<string> PublishWorkersDeadLetterAsync(string errorQueue, string sourceQueue, object message, string exceptionType, int attempts, DateTimeOffset failedAt)
    {
        var id = Guid.NewGuid();
        var urn = MessageTypeName.ToUrn(message.GetType().FullName)!;
        var node = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(message, message.GetType(), new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web)))!;
        var host = new Uri("rabbitmq://localhost/" + Vhost.Name + "/");
        var body = Workers.Cli.Publish.MassTransitEnvelope.Create(id, Guid.NewGuid(), urn, node, new Uri(host, "test"), new Uri(host, sourceQueue), failedAt, new Dictionary<string, string>());
        var properties = Workers.Cli.Publish.MassTransitEnvelope.CreateProperties(id, new Dictionary<string, string>());
        properties.Headers![Resilience.WorkersHeaders.FaultQueue] = sourceQueue;
        properties.Headers[Resilience.WorkersHeaders.FaultAttempts] = attempts;
        properties.Headers[Resilience.WorkersHeaders.FaultFirstFailure] = failedAt.AddMinutes(-5).ToString("O");
        properties.Headers[Resilience.WorkersHeaders.FaultLastFailure] = failedAt.ToString("O");
        properties.Headers[Resilience.WorkersHeaders.FaultExceptionType] = exceptionType;
        properties.Headers[Resilience.WorkersHeaders.FaultMessage] = "simulated";
        properties.Headers[Resilience.WorkersHeaders.FaultDisposition] = "exhausted";
        properties.Headers[Resilience.WorkersHeaders.RedeliveryCount] = attempts - 1;
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        await channel.QueueDeclareAsync(errorQueue, durable: true, exclusive: false, autoDelete: false);
        await channel.BasicPublishAsync(string.Empty, errorQueue, mandatory: true, properties, body);
        return id.ToString("D");
    }

    /// <summary>Removes every ready message and returns them in queue order.</summary>
    public async Task<List<DrainedMessage>> DrainAsync(string queue)
    {
        await using var channel = await connection.CreateChannelAsync();
        var messages = new List<DrainedMessage>();
        while (await channel.BasicGetAsync(queue, autoAck: true) is { } result)
        {
            var headers = (result.BasicProperties.Headers ?? new Dictionary<string, object?>()).ToDictionary(
                h => h.Key, h => h.Value is byte[] bytes ? Encoding.UTF8.GetString(bytes) : h.Value?.ToString());
            messages.Add(new DrainedMessage(result.BasicProperties.MessageId ?? "?", headers, Encoding.UTF8.GetString(result.Body.Span)));
        }

        return messages;
    }

    /// <summary>Starts a MassTransit bus on this vhost with the given endpoints; stop it by disposing the handle.</summary>
    public async Task<BusHandle> StartBusAsync(Action<IRabbitMqBusFactoryConfigurator> configure)
    {
        var uri = Vhost.Uri;
        var user = Uri.UnescapeDataString(uri.UserInfo.Split(':')[0]);
        var password = Uri.UnescapeDataString(uri.UserInfo.Split(':')[1]);
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(uri.Host, (ushort)uri.Port, Vhost.Name, h =>
            {
                h.Username(user);
                h.Password(password);
            });
            configure(cfg);
        });
        await bus.StartAsync(TestContext.Current.CancellationToken);
        return new BusHandle(bus);
    }

    /// <summary>
    /// Dead-letters messages the way plain MassTransit does (a consumer that always throws, no retry): sends them through
    /// a running bus whose consumers fail, and waits until all are in <c>&lt;queue&gt;_error</c>. Returns the message ids.
    /// </summary>
    public async Task<(List<string> Orders, List<string> Payments)> SeedMassTransitDeadLettersAsync(BusHandle bus, TestConsumers consumers, string queue, int orders, int payments)
    {
        consumers.FailAll = true;
        var before = await CountOrZeroAsync(queue + "_error");
        var endpoint = await bus.Bus.GetSendEndpoint(new Uri($"queue:{queue}"));
        var orderIds = new List<string>();
        var paymentIds = new List<string>();
        for (var i = 0; i < Math.Max(orders, payments); i++)
        {
            if (i < orders)
            {
                var id = NewId.NextGuid();
                orderIds.Add(id.ToString("D"));
                await endpoint.Send(new OrderSubmitted { Number = i }, context => context.MessageId = id, TestContext.Current.CancellationToken);
            }

            if (i < payments)
            {
                var id = NewId.NextGuid();
                paymentIds.Add(id.ToString("D"));
                await endpoint.Send(new PaymentCaptured { Number = i }, context => context.MessageId = id, TestContext.Current.CancellationToken);
            }
        }

        await WaitForReadyAsync(queue + "_error", n => n >= before + orders + payments, TimeSpan.FromSeconds(30));
        return (orderIds, paymentIds);
    }

    public async Task<uint> CountOrZeroAsync(string queue)
    {
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            return 0;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await connection.CloseAsync();
        connection.Dispose();
    }

    /// <summary>A running MassTransit bus.</summary>
    internal sealed class BusHandle(IBusControl bus) : IAsyncDisposable
    {
        public IBusControl Bus { get; } = bus;

        public async ValueTask DisposeAsync() => await Bus.StopAsync(CancellationToken.None);
    }
}

internal sealed record DrainedMessage(string MessageId, IReadOnlyDictionary<string, string?> Headers, string Body);

/// <summary>The consumers of the tests: fail or succeed on demand, record what they saw.</summary>
internal sealed class TestConsumers
{
    public ConcurrentQueue<(string MessageId, string Type, string? ReplayId, IReadOnlyList<string> HeaderNames)> Received { get; } = new();

    /// <summary>When true, every message fails: PaymentCaptured with TimeoutException, OrderSubmitted with InvalidOperationException.</summary>
    public bool FailAll
    {
        get => Volatile.Read(ref failAll);
        set => Volatile.Write(ref failAll, value);
    }

    private bool failAll;

    public void Configure(IRabbitMqReceiveEndpointConfigurator endpoint)
    {
        endpoint.Handler<OrderSubmitted>(context => Handle(context, context.Message.Behaviour));
        endpoint.Handler<PaymentCaptured>(context => Handle(context, context.Message.Behaviour));
    }

    public async Task WaitForAsync(Func<TestConsumers, bool> condition, TimeSpan timeout)
    {
        var started = DateTime.UtcNow;
        while (!condition(this))
        {
            if (DateTime.UtcNow - started > timeout)
            {
                throw new TimeoutException($"consumers saw {Received.Count} message(s); the condition did not hold within {timeout}");
            }

            await Task.Delay(50);
        }
    }

    private Task Handle<T>(ConsumeContext<T> context, string behaviour)
        where T : class
    {
        if (FailAll || behaviour != "ok")
        {
            throw behaviour == "timeout" || typeof(T) == typeof(PaymentCaptured) ? new TimeoutException("simulated timeout") : new InvalidOperationException("simulated failure");
        }

        Received.Enqueue((context.MessageId?.ToString("D") ?? "?", typeof(T).Name, context.ReceiveContext.TransportHeaders.Get<string>(Resilience.WorkersHeaders.ReplayId), context.Headers.GetAll().Concat(context.ReceiveContext.TransportHeaders.GetAll()).Select(h => h.Key).ToList()));
        return Task.CompletedTask;
    }
}
