namespace Workers.Hosting;

/// <summary>Decides whether an endpoint is stuck, from its activity and its queue's broker counts (pure).</summary>
internal static class StallRule
{
    /// <summary>The reason the endpoint is stuck, or null when it is not (or cannot be told yet).</summary>
    /// <param name="activity">What MassTransit reports of the endpoint.</param>
    /// <param name="queueMessages">Ready messages in its queue, as the broker counts them.</param>
    /// <param name="queueConsumers">Consumers on its queue, as the broker counts them.</param>
    /// <param name="paused">Its breaker holds it paused on purpose.</param>
    /// <param name="now">Now.</param>
    /// <param name="stallTimeout">How long an endpoint may be quiet (or, having been ready, not ready while the broker answers) before it is stuck.</param>
    /// <param name="brokerAnsweringSince">Since when the broker has answered every inspection while the endpoint was not ready, or null.</param>
    public static string? Evaluate(EndpointActivitySnapshot activity, uint queueMessages, uint queueConsumers, bool paused, DateTimeOffset now, TimeSpan stallTimeout, DateTimeOffset? brokerAnsweringSince = null)
    {
        if (paused)
        {
            // The breaker holds it on purpose.
            return null;
        }

        if (!activity.Ready)
        {
            // Not ready: MassTransit is connecting or recovering by itself — unless the endpoint, ready before, has
            // stayed down for the whole stall timeout while the broker answered (seen on RabbitMQ 4.0 after a network
            // cut: one endpoint's consumer never came back, its queue filled, the other endpoint worked on).
            if (activity.NotReadySince is not { } down || brokerAnsweringSince is not { } answering)
            {
                return null;
            }

            var since = down > answering ? down : answering;
            return now - since >= stallTimeout
                ? $"the endpoint has not been ready for {now - down:g} although the broker has answered for {now - answering:g}"
                : null;
        }

        var quietSince = activity.LastReceived is { } last && last > activity.ReadySince ? last : activity.ReadySince;
        if (now - quietSince < stallTimeout)
        {
            return null;
        }

        if (queueConsumers == 0)
        {
            return "the broker lists no consumer on the queue although the endpoint reports ready";
        }

        if (queueMessages > 0 && activity.InFlight == 0)
        {
            return $"{queueMessages} message(s) wait in the queue but none was delivered to this endpoint for {now - quietSince:g}";
        }

        return null;
    }
}
