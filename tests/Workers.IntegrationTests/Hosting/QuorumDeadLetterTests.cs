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

    private async Task PublishPoisonAsync(string queue)
    {
        var connection = await vhost.GetConnectionAsync(Cancel);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), Cancel);
        var properties = new BasicProperties { ContentType = MassTransitEnvelope.ContentType, MessageId = Guid.NewGuid().ToString(), Persistent = true };
        await channel.BasicPublishAsync(string.Empty, queue, mandatory: true, properties, Encoding.UTF8.GetBytes("{ this is not json"), Cancel);
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
