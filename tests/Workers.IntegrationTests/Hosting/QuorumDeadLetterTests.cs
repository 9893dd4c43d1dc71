using System.Text;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using Workers.Hosting;
using Workers.Resilience;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Hosting;

/// <summary>
/// A quorum endpoint's <c>_error</c> queue is declared twice: by MassTransit (a message it cannot deserialize) and by
/// the dead-letter stage (a permanent failure). Both declarations must agree on the queue type, in either order,
/// or RabbitMQ refuses the second one (406) and that dead-letter path breaks.
/// </summary>
public sealed class QuorumDeadLetterTests : IClassFixture<RabbitMqTestVhost>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly RabbitMqTestVhost vhost;

    public QuorumDeadLetterTests(RabbitMqTestVhost vhost)
    {
        this.vhost = vhost;
    }

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PoisonAndPermanentFailure_BothLandInTheQuorumErrorQueue_InEitherOrder(bool poisonFirst)
    {
        var queue = $"quorum-dl-{Guid.NewGuid():N}"[..22];
        using var host = BuildHost(queue);
        await host.StartAsync(Cancel);
        try
        {
            await vhost.WaitForQueueAsync(queue, q => q.Consumers == 1, Bound, Cancel);
            // Published, not sent to "queue:<name>": that address would declare the queue as a classic one.
            var bus = host.Services.GetRequiredService<IBus>();
            if (poisonFirst)
            {
                await PublishPoisonAsync(queue);
                await vhost.WaitForQueueAsync(queue + "_error", q => q.Messages == 1, Bound, Cancel);
                await bus.Publish(new RefusedOrder(Guid.NewGuid()), Cancel);
            }
            else
            {
                await bus.Publish(new RefusedOrder(Guid.NewGuid()), Cancel);
                await vhost.WaitForQueueAsync(queue + "_error", q => q.Messages == 1, Bound, Cancel);
                await PublishPoisonAsync(queue);
            }

            var error = await vhost.WaitForQueueAsync(queue + "_error", q => q.Messages == 2, Bound, Cancel);
            Assert.Equal("quorum", error.Type);
            Assert.Equal(0, (await vhost.GetQueueAsync(queue, Cancel))!.Messages);
        }
        finally
        {
            await host.StopAsync(Cancel);
        }
    }

    // RabbitMQ 4.0-4.2 drop a quorum queue's message after 20 returns (verified on 4.0.5 by RabbitMq4Tests); Workers
    // returns messages on purpose, so the endpoint queue and the two queues MassTransit declares beside it (the
    // poison message's _error, the unknown type's _skipped) must all carry a delivery limit no return count reaches.
    [Fact]
    public async Task QuorumEndpoint_QueueErrorAndSkippedQueues_CarryADeliveryLimitNoReturnCountReaches()
    {
        var queue = $"quorum-dl-{Guid.NewGuid():N}"[..22];
        using var host = BuildHost(queue);
        await host.StartAsync(Cancel);
        try
        {
            await vhost.WaitForQueueAsync(queue, q => q.Consumers == 1, Bound, Cancel);
            await PublishPoisonAsync(queue);
            await PublishRawAsync(queue, """{"messageId":"3f0c1a7e-0000-0000-0000-000000000001","messageType":["urn:message:Nobody:KnowsThis"],"message":{}}""");
            await vhost.WaitForQueueAsync(queue + "_error", q => q.Messages == 1, Bound, Cancel);
            await vhost.WaitForQueueAsync(queue + "_skipped", q => q.Messages == 1, Bound, Cancel);

            foreach (var name in new[] { queue, queue + "_error", queue + "_skipped" })
            {
                var info = (await vhost.GetQueueAsync(name, Cancel))!;
                Assert.Equal("quorum", info.Type);
                Assert.True(
                    info.Arguments is { } arguments && arguments.TryGetValue("x-delivery-limit", out var limit) && limit.GetInt64() == int.MaxValue,
                    $"{name} has no unreachable x-delivery-limit: {System.Text.Json.JsonSerializer.Serialize(info.Arguments)}");
            }
        }
        finally
        {
            await host.StopAsync(Cancel);
        }
    }

    // A classic _skipped left from before the endpoint became quorum: MassTransit's move of an unknown type there failed
    // with 406 (inequivalent x-queue-type), closed the consumer channel and returned the message, for ever — the
    // endpoint stalled on its first unknown message (seen by the fault suite on 4.0). The host now refuses to start,
    // naming the queue, and leaves it and its messages alone.
    [Fact]
    public async Task DeadLetterQueueOfAnotherType_HostRefusesToStart_NamingIt_MessagesKept()
    {
        var queue = $"quorum-dl-{Guid.NewGuid():N}"[..22];
        var connection = await vhost.GetConnectionAsync(Cancel);
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), Cancel))
        {
            await channel.QueueDeclareAsync(queue + "_skipped", durable: true, exclusive: false, autoDelete: false, cancellationToken: Cancel);
            await channel.BasicPublishAsync(string.Empty, queue + "_skipped", mandatory: true, new BasicProperties { Persistent = true }, Encoding.UTF8.GetBytes("kept"), Cancel);
        }

        using var host = BuildHost(queue);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync(Cancel));
        Assert.Contains($"'{queue}_skipped' of endpoint '{queue}'", refused.Message, StringComparison.Ordinal);
        Assert.Contains("x-queue-type", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain($"'{queue}_error'", refused.Message, StringComparison.Ordinal);
        var skipped = (await vhost.GetQueueAsync(queue + "_skipped", Cancel))!;
        Assert.Equal("classic", skipped.Type);
        await vhost.WaitForQueueAsync(queue + "_skipped", q => q.Messages == 1, Bound, Cancel);
        Assert.Null(await vhost.GetQueueAsync(queue, Cancel));
    }

    private Task PublishPoisonAsync(string queue) => PublishRawAsync(queue, "{ this is not json");

    private async Task PublishRawAsync(string queue, string body)
    {
        var connection = await vhost.GetConnectionAsync(Cancel);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), Cancel);
        var properties = new BasicProperties { ContentType = MassTransitEnvelope.ContentType, MessageId = Guid.NewGuid().ToString(), Persistent = true };
        await channel.BasicPublishAsync(string.Empty, queue, mandatory: true, properties, Encoding.UTF8.GetBytes(body), Cancel);
    }

    private IHost BuildHost(string queue)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Workers:RabbitMq:Uri"] = vhost.Uri.ToString(),
            ["Workers:Defaults:QueueType"] = "Quorum",
        });
        builder.Logging.ClearProviders();
        builder.AddWorkers(w => w.AddConsumer<RefusingConsumer>(queue));
        return builder.Build();
    }

    public sealed record RefusedOrder(Guid Id);

    public sealed class RefusingConsumer : IConsumer<RefusedOrder>
    {
        public Task Consume(ConsumeContext<RefusedOrder> context) => throw new PermanentFailureException("refused for good");
    }
}
