using MassTransit;
using Workers.Resilience.Redelivery;

namespace Workers.Resilience;

/// <summary>Reads the redelivery state of a consumed message.</summary>
public static class RedeliveryContextExtensions
{
    /// <summary>
    /// How many times the message was redelivered through the delay ladder (0 on the first delivery).
    /// The ladder keeps the body byte for byte, so the counter travels as the transport header <c>MT-Redelivery-Count</c>
    /// (MassTransit's name and meaning); MassTransit's <c>GetRedeliveryCount()</c> reads the serialized envelope's headers
    /// instead and does not see it for envelope-serialized messages: use this method.
    /// </summary>
    /// <param name="context">The consume context.</param>
    /// <returns>The redelivery count.</returns>
    public static int GetWorkersRedeliveryCount(this ConsumeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var transport = RedeliveryFilter<ConsumeContext>.ReadInt(context.ReceiveContext.TransportHeaders, WorkersHeaders.RedeliveryCount);
        return transport > 0 ? transport : RedeliveryFilter<ConsumeContext>.ReadInt(context.Headers, WorkersHeaders.RedeliveryCount);
    }
}
