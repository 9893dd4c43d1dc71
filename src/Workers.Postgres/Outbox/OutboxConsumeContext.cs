using MassTransit;
using MassTransit.Context;
using MassTransit.Middleware;
using MassTransit.Middleware.Outbox;

namespace Workers.Postgres.Outbox;

/// <summary>Stages a message MassTransit built for a publish or send in the outbox (the scope's <see cref="WorkersOutbox{TDbContext}"/>).</summary>
internal interface IOutboxSendStaging
{
    /// <summary>Stages <paramref name="sent"/>: a publish when <paramref name="destination"/> is null, else a send to it.</summary>
    Guid StageSent<T>(Uri? destination, SendContext<T> sent)
        where T : class;
}

/// <summary>
/// The consume context the inbox hands the consumer when <see cref="InboxOptions.PublishThroughOutbox"/> is on: its
/// <c>Publish</c>, <c>Send</c> (<c>GetSendEndpoint</c>) and <c>Respond</c> go to Workers' outbox, staged in the inbox
/// transaction, instead of the broker. The seam is MassTransit's own (its transactional outbox does the same): a
/// <see cref="ConsumeContextProxy{TMessage}"/> whose receive context hands out send endpoints that build the
/// <see cref="SendContext{T}"/> as usual (serializer, the caller's pipe, conversation ids) and give it to an
/// <see cref="OutboxSendContext"/> instead of the transport.
/// </summary>
/// <typeparam name="TMessage">The consumed message type.</typeparam>
internal sealed class OutboxConsumeContext<TMessage> : ConsumeContextProxy<TMessage>
    where TMessage : class
{
    public OutboxConsumeContext(ConsumeContext<TMessage> context, IOutboxSendStaging staging, IServiceProvider services)
        : base(context)
    {
        ReceiveContext = new OutboxRoutingReceiveContext(context.ReceiveContext, staging, services);
    }

    /// <summary>The receive context whose publish and send endpoint providers stage in the outbox.</summary>
    private sealed class OutboxRoutingReceiveContext : ReceiveContextProxy
    {
        public OutboxRoutingReceiveContext(ReceiveContext context, IOutboxSendStaging staging, IServiceProvider services)
            : base(context)
        {
            var sends = new Sink(staging, services, publish: false);
            SendEndpointProvider = new OutboxSendEndpointProvider(sends, context.SendEndpointProvider);
            PublishEndpointProvider = new PublishProvider(new Sink(staging, services, publish: true), context.PublishEndpointProvider);
        }

        public override ISendEndpointProvider SendEndpointProvider { get; }

        public override IPublishEndpointProvider PublishEndpointProvider { get; }
    }

    /// <summary>Publishes: the transport's publish endpoint builds the send context, the sink stages it as a publish.</summary>
    private sealed class PublishProvider(Sink sink, IPublishEndpointProvider inner) : IPublishEndpointProvider
    {
        public ConnectHandle ConnectPublishObserver(IPublishObserver observer) => inner.ConnectPublishObserver(observer);

        public async Task<ISendEndpoint> GetPublishSendEndpoint<T>()
            where T : class =>
            new OutboxSendEndpoint(sink, await inner.GetPublishSendEndpoint<T>().ConfigureAwait(false));
    }

    /// <summary>Where MassTransit's outbox send endpoint hands the message it built.</summary>
    private sealed class Sink(IOutboxSendStaging staging, IServiceProvider services, bool publish) : OutboxSendContext
    {
        public Task AddSend<T>(SendContext<T> context)
            where T : class
        {
            staging.StageSent(publish ? null : context.DestinationAddress, context);
            return Task.CompletedTask;
        }

        public object? GetService(Type serviceType) => services.GetService(serviceType);
    }
}
