using System.Text.Json;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Workers.Benchmarks.Infrastructure;

namespace Workers.Benchmarks.Contenders;

/// <summary>
/// RabbitMQ.Client 7.2.2 with nothing on top: the physical ceiling. One channel with publisher confirms and
/// confirmation tracking (each publish completes at its confirm; the runner keeps a window of them in flight =
/// pipelined confirms); one consumer channel with a tuned prefetch, manual ack per message after the handler,
/// and on failure <c>basic.nack(requeue: true)</c> (the broker redelivers it).
/// </summary>
internal sealed class RawContender(ushort prefetch = RawContender.DefaultPrefetch) : Contender
{
    public const ushort DefaultPrefetch = 100;

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public override string Name => "raw";

    public override string Settings => $"RabbitMQ.Client 7.2.2; prefetch {prefetch}; 1 consumer, dispatch concurrency 1; ack per message; failure = nack+requeue; System.Text.Json body";

    public override async Task<IBenchProducer> StartProducerAsync(BenchVhost vhost, string queue, CancellationToken cancellationToken)
    {
        var connection = await Factory(vhost, "bench-raw-producer").CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
        var options = new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true);
        var channel = await connection.CreateChannelAsync(options, cancellationToken).ConfigureAwait(false);
        await DeclareAsync(channel, queue, cancellationToken).ConfigureAwait(false);
        return new Producer(connection, channel, queue);
    }

    public override async Task<IAsyncDisposable> StartConsumerAsync(BenchVhost vhost, string queue, ConsumeProbe probe, bool failures, CancellationToken cancellationToken)
    {
        var connection = await Factory(vhost, "bench-raw-consumer").CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
        var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await DeclareAsync(channel, queue, cancellationToken).ConfigureAwait(false);
        await channel.BasicQosAsync(0, prefetch, global: false, cancellationToken).ConfigureAwait(false);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            var message = JsonSerializer.Deserialize<BenchMessage>(delivery.Body.Span, Json)!;
            try
            {
                probe.Consume(message);
            }
            catch (BenchFailureException)
            {
                await channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true).ConfigureAwait(false);
                return;
            }

            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false).ConfigureAwait(false);
        };
        await channel.BasicConsumeAsync(queue, autoAck: false, consumer, cancellationToken).ConfigureAwait(false);
        return new Stopper(connection, channel);
    }

    internal static ConnectionFactory Factory(BenchVhost vhost, string name) => new()
    {
        Uri = vhost.Uri,
        ClientProvidedName = name,
        ConsumerDispatchConcurrency = 1,
    };

    internal static Task DeclareAsync(IChannel channel, string queue, CancellationToken cancellationToken) =>
        channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken);

    private sealed class Producer(IConnection connection, IChannel channel, string queue) : IBenchProducer
    {
        private static readonly BasicProperties Properties = new() { Persistent = true, ContentType = "application/json" };

        public async Task PublishAsync(BenchMessage message, CancellationToken cancellationToken)
        {
            var body = JsonSerializer.SerializeToUtf8Bytes(message, Json);
            await channel.BasicPublishAsync(string.Empty, queue, mandatory: false, Properties, body, cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask DisposeAsync()
        {
            await channel.CloseAsync().ConfigureAwait(false);
            await channel.DisposeAsync().ConfigureAwait(false);
            await connection.CloseAsync().ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private sealed class Stopper(IConnection connection, IChannel channel) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await channel.CloseAsync().ConfigureAwait(false);
            await channel.DisposeAsync().ConfigureAwait(false);
            await connection.CloseAsync().ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
