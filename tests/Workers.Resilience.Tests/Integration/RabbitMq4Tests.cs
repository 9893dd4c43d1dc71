using MassTransit;
using RabbitMQ.Client;
using Workers.Resilience.Broker;
using Workers.Resilience.Redelivery;
using Workers.Testing;
using Xunit;

namespace Workers.Resilience.Tests.Integration;

/// <summary>
/// What changed in RabbitMQ 4: quorum queues drop a message returned more than 20 times (4.0–4.2 default), and the delay
/// ladder's at-least-once dead-lettering must still hand a redelivery back. On the 4.0 node (skipped without one).
/// </summary>
public sealed class RabbitMq4Tests : IClassFixture<RabbitMq4TestVhost>
{
    private const int Returns = 25;
    private readonly RabbitMq4TestVhost node;

    public RabbitMq4Tests(RabbitMq4TestVhost node) => this.node = node;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task QuorumErrorQueue_DeclaredByTheDeadLetterStage_KeepsAMessageReturned25Times()
    {
        var vhost = Require();
        var errorQueue = Unique("dl") + "_error";
        var types = new ErrorQueueTypes();
        types.UseQuorum(errorQueue);
        await using (var transport = new BrokerClient(vhost.Uri, "workers-tests") { ErrorQueueTypes = types })
        {
            await transport.PublishErrorAsync(errorQueue, "dead letter"u8.ToArray(), new BasicProperties { Persistent = true }, Token);
        }

        var connection = await vhost.GetConnectionAsync(Token);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: Token);
        for (var i = 0; i < Returns; i++)
        {
            // As every `workers dlq list` does: read the message, then return it.
            var message = await GetAsync(channel, errorQueue, $"the dead letter after {i} returns");
            await channel.BasicNackAsync(message.DeliveryTag, multiple: false, requeue: true, Token);
        }

        var last = await GetAsync(channel, errorQueue, $"the dead letter after {Returns} returns");
        Assert.Equal("dead letter", System.Text.Encoding.UTF8.GetString(last.Body.Span));
        await channel.BasicAckAsync(last.DeliveryTag, multiple: false, Token);
    }

    [Fact]
    public async Task QuorumErrorQueue_DeclaredEarlierWithoutTheLimit_StillTakesDeadLetters()
    {
        var vhost = Require();
        var errorQueue = Unique("old") + "_error";
        var connection = await vhost.GetConnectionAsync(Token);
        await using (var declare = await connection.CreateChannelAsync(cancellationToken: Token))
        {
            // As MassTransit (or Workers before the limit) declared it.
            await declare.QueueDeclareAsync(errorQueue, durable: true, exclusive: false, autoDelete: false, new Dictionary<string, object?> { ["x-queue-type"] = "quorum" }, cancellationToken: Token);
        }

        var types = new ErrorQueueTypes();
        types.UseQuorum(errorQueue);
        await using (var transport = new BrokerClient(vhost.Uri, "workers-tests") { ErrorQueueTypes = types })
        {
            await transport.PublishErrorAsync(errorQueue, "dead letter"u8.ToArray(), new BasicProperties { Persistent = true }, Token);
        }

        await vhost.WaitForReadyCountAsync(errorQueue, 1, TimeSpan.FromSeconds(10), Token);
    }

    [Fact]
    public async Task DelayedRedelivery_ThroughTheLadder_ArrivesBack()
    {
        var vhost = Require();
        var queue = Unique("ladder4");
        var recorder = new AttemptRecorder { DefaultFailTimes = 1 };
        var options = new RedeliveryOptions { Delay = TimeSpan.FromMilliseconds(500), MaxDelay = TimeSpan.FromSeconds(5), MaxRedeliveryAttempts = 3 };
        await using var bus = await TestBus.StartAsync(vhost.Uri, (cfg, ctx) => cfg.ReceiveEndpoint(queue, e =>
        {
            e.UseWorkersRedelivery(ctx, options);
            e.Handler<RedeliveryProbe>(recorder.ConsumeAsync);
        }), Token);
        var id = NewId.NextGuid();

        await bus.SendAsync(queue, new RedeliveryProbe("ladder on 4.0"), id, NewId.NextGuid(), tenant: "acme");
        var attempts = await recorder.WaitForSuccessAsync(id, TimeSpan.FromSeconds(30));

        Assert.Equal([0, 1], attempts.Select(a => a.RedeliveryCount));
        Assert.StartsWith(DelayLadder.Prefix, attempts[1].ReceivedFrom, StringComparison.Ordinal);
        Assert.True(attempts[1].At - attempts[0].At >= DelayLadder.Effective(options.Delay) - TimeSpan.FromMilliseconds(20));
    }

    private RabbitMqTestVhost Require()
    {
        Assert.SkipWhen(node.Vhost is null, RabbitMq4TestVhost.SkipReason);
        return node.Vhost!;
    }

    private static async Task<BasicGetResult> GetAsync(IChannel channel, string queue, string what)
    {
        BasicGetResult? result = null;
        await Eventually.HoldsAsync(async () => (result = await channel.BasicGetAsync(queue, autoAck: false, Token)) is not null, TimeSpan.FromSeconds(10), what, Token);
        return result!;
    }

    private static string Unique(string name) => $"{name}-{Guid.NewGuid():N}"[..(name.Length + 9)];
}
