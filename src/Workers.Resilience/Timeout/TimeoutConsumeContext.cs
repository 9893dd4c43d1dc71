using MassTransit;
using MassTransit.Context;

namespace Workers.Resilience.Timeout;

/// <summary>The consume context seen by the consumer: the same message, with a cancellation token that fires at the timeout.</summary>
internal sealed class TimeoutConsumeContext<TMessage> : ConsumeContextProxy, ConsumeContext<TMessage>
    where TMessage : class
{
    private readonly ConsumeContext<TMessage> context;

    public TimeoutConsumeContext(ConsumeContext<TMessage> context, CancellationToken cancellationToken)
        : base(context)
    {
        this.context = context;
        CancellationToken = cancellationToken;
    }

    public override CancellationToken CancellationToken { get; }

    public TMessage Message => context.Message;

    public Task NotifyConsumed(TimeSpan duration, string consumerType) => NotifyConsumed(this, duration, consumerType);

    public Task NotifyFaulted(TimeSpan duration, string consumerType, Exception exception) => NotifyFaulted(this, duration, consumerType, exception);
}
