using Workers.Postgres.Inbox;

namespace Workers.Postgres;

/// <summary>Settings of the inbox (configuration section <c>Workers:Inbox</c>).</summary>
public sealed class InboxOptions
{
    /// <summary>
    /// How long processed MessageIds are remembered; a duplicate arriving later runs the consumer again.
    /// Must exceed the longest redelivery/outbox retry horizon: with <c>AddWorkers(...).UsePostgres</c> a host refuses to
    /// start when it is not longer than an inbox endpoint's redelivery horizon plus 1 h; <c>workers dlq replay</c>
    /// refuses dead letters older than it (<c>--inbox-retention</c>, <c>--allow-beyond-retention</c>). Default 7 days.
    /// </summary>
    public TimeSpan Retention { get; set; } = InboxConstants.DefaultRetention;

    /// <summary>How often expired inbox rows are deleted. Default 1 min.</summary>
    public TimeSpan CleanupInterval { get; set; } = InboxConstants.DefaultCleanupInterval;

    /// <summary>Rows deleted by one cleanup statement (1–100000). Default 1000: each statement stays short, its locks and WAL small.</summary>
    public int CleanupBatchSize { get; set; } = InboxConstants.DefaultCleanupBatchSize;

    /// <summary>
    /// Statements per cleanup round (1–100000): a round keeps deleting while a batch comes back full, up to this many.
    /// Default 200, so one replica deletes up to <see cref="CleanupBatchSize"/> × 200 = 200,000 rows per <see cref="CleanupInterval"/>.
    /// </summary>
    public int MaxCleanupBatches { get; set; } = InboxConstants.DefaultMaxCleanupBatches;

    /// <summary>Run the background cleanup in this process. Default true.</summary>
    public bool EnableCleanup { get; set; } = true;

    /// <summary>
    /// Route the consumer's own <c>context.Publish</c>, <c>context.Send</c> (<c>GetSendEndpoint</c>) and
    /// <c>RespondAsync</c> into the outbox, staged in the inbox transaction — atomic with the consumer's effects, like
    /// <see cref="IWorkersOutbox"/> (same MessageId rules; a failed attempt stages nothing) — instead of straight to the
    /// broker. Needs the outbox (<c>AddWorkersOutbox</c>). Messages with a delay or time-to-live are refused (the outbox
    /// does not carry them). Default false: it changes when and how those messages reach the broker (after the commit,
    /// mandatory, retried while unroutable). Publishes through an injected <c>IPublishEndpoint</c>/<c>ISendEndpointProvider</c>
    /// and from the bus are not routed.
    /// </summary>
    public bool PublishThroughOutbox { get; set; }

    /// <summary>Every error at once, each with its option path.</summary>
    /// <param name="path">The configuration path of these options.</param>
    /// <returns>The errors; empty when valid.</returns>
    public IReadOnlyList<string> Validate(string path = InboxConstants.SectionPath)
    {
        var errors = new List<string>();
        if (Retention <= TimeSpan.Zero)
        {
            errors.Add($"{path}:{nameof(Retention)} must be positive (was {Retention}).");
        }

        if (CleanupInterval <= TimeSpan.Zero)
        {
            errors.Add($"{path}:{nameof(CleanupInterval)} must be positive (was {CleanupInterval}).");
        }

        if (CleanupBatchSize is < 1 or > InboxConstants.MaxCleanupBatchSize)
        {
            errors.Add($"{path}:{nameof(CleanupBatchSize)} must be between 1 and {InboxConstants.MaxCleanupBatchSize} (was {CleanupBatchSize}).");
        }

        if (MaxCleanupBatches is < 1 or > InboxConstants.MaxMaxCleanupBatches)
        {
            errors.Add($"{path}:{nameof(MaxCleanupBatches)} must be between 1 and {InboxConstants.MaxMaxCleanupBatches} (was {MaxCleanupBatches}).");
        }

        if (CleanupInterval > Retention && Retention > TimeSpan.Zero)
        {
            errors.Add($"{path}:{nameof(CleanupInterval)} ({CleanupInterval}) must not exceed {nameof(Retention)} ({Retention}).");
        }

        return errors;
    }
}
