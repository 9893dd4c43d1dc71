namespace Workers.Hosting;

/// <summary>Decides whether a ready endpoint is stuck, from its activity and its queue's broker counts (pure).</summary>
internal static class StallRule
{
    /// <summary>The reason the endpoint is stuck, or null when it is not (or cannot be told yet).</summary>
    public static string? Evaluate(EndpointActivitySnapshot activity, uint queueMessages, uint queueConsumers, bool paused, DateTimeOffset now, TimeSpan stallTimeout)
    {
        if (!activity.Ready || paused)
        {
            // Not ready: MassTransit is connecting or recovering by itself. Paused: the breaker holds it on purpose.
            return null;
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
