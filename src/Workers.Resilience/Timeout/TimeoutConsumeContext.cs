using MassTransit;
using MassTransit.Context;

namespace Workers.Resilience.Timeout;

/// <summary>The consume context handed on by the timeout stage: the same message, with a cancellation token that fires at the timeout.</summary>
internal sealed class TimeoutConsumeContext : ConsumeContextProxy
{
    public TimeoutConsumeContext(ConsumeContext context, CancellationToken cancellationToken)
        : base(context)
    {
        CancellationToken = cancellationToken;
    }

    public override CancellationToken CancellationToken { get; }
}
