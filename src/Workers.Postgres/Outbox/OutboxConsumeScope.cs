namespace Workers.Postgres.Outbox;

/// <summary>
/// Scoped: the inbound message being consumed in this scope, set by the inbox before the consumer runs, so the
/// scope's <see cref="IWorkersOutbox"/> derives its MessageIds (<see cref="OutboxMessageIds"/>) instead of drawing new ones.
/// </summary>
internal sealed class OutboxConsumeScope
{
    private (Guid MessageId, string Consumer)? inbound;
    private int position;

    /// <summary>Starts (or restarts, for another attempt) the consume of <paramref name="messageId"/> by <paramref name="consumer"/>: positions count from 0.</summary>
    public void Begin(Guid messageId, string consumer)
    {
        inbound = (messageId, consumer);
        position = 0;
    }

    /// <summary>The next derived id, or null outside a consume (a new sequential id is used then).</summary>
    public Guid? Next()
    {
        if (inbound is not { } current)
        {
            return null;
        }

        return OutboxMessageIds.Derive(current.MessageId, current.Consumer, position++);
    }
}
