namespace Workers.Cli.Broker;

/// <summary>MassTransit's queue naming: <c>&lt;queue&gt;_error</c> for dead letters, <c>&lt;queue&gt;_skipped</c> for unknown messages.</summary>
internal static class QueueNames
{
    public const string ErrorSuffix = "_error";
    public const string SkippedSuffix = "_skipped";

    /// <summary>The dead-letter queue of an endpoint; an <c>_error</c> (or <c>_skipped</c>) name is taken as it is.</summary>
    public static string ErrorQueueOf(string queue) =>
        IsDeadLetterQueue(queue) ? queue : queue + ErrorSuffix;

    /// <summary>
    /// The endpoint a dead-letter queue belongs to: its name minus <c>_error</c> or <c>_skipped</c> (both MassTransit and
    /// Workers name the dead-letter queue of endpoint <c>q</c> <c>q_error</c>). The trusted replay target.
    /// </summary>
    public static string EndpointOf(string deadLetterQueue) =>
        deadLetterQueue.EndsWith(ErrorSuffix, StringComparison.Ordinal) ? deadLetterQueue[..^ErrorSuffix.Length]
        : deadLetterQueue.EndsWith(SkippedSuffix, StringComparison.Ordinal) ? deadLetterQueue[..^SkippedSuffix.Length]
        : deadLetterQueue;

    public static bool IsDeadLetterQueue(string queue) =>
        queue.EndsWith(ErrorSuffix, StringComparison.Ordinal) || queue.EndsWith(SkippedSuffix, StringComparison.Ordinal);

    /// <summary>The queue named by an endpoint address such as <c>rabbitmq://host/vhost/orders?bind=true</c> or <c>queue:orders</c>.</summary>
    public static string? FromAddress(string? address)
    {
        if (string.IsNullOrWhiteSpace(address) || !Uri.TryCreate(address, UriKind.Absolute, out var uri))
        {
            return null;
        }

        if (uri.Scheme is "queue" or "exchange")
        {
            var local = uri.AbsolutePath.Split('?')[0];
            return local.Length == 0 ? null : Uri.UnescapeDataString(local);
        }

        var segments = uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return segments.Length == 0 ? null : Uri.UnescapeDataString(segments[^1]);
    }
}
