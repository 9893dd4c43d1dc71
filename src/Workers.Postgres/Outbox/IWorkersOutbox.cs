namespace Workers.Postgres;

/// <summary>
/// Publish and send through the transactional outbox bound to the scope's DbContext. Messages are only
/// staged in the context's change tracker: they are written by the next <c>SaveChanges</c> in the same
/// transaction as the business changes, and dispatched to the broker after the commit (nothing when the
/// transaction rolls back). Scoped; inject it beside the DbContext (in consumers too).
/// </summary>
public interface IWorkersOutbox
{
    /// <summary>Stages a publish of <paramref name="message"/> (its runtime type is the published type).</summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="message">The message.</param>
    /// <param name="options">MessageId, ordering key, headers; optional.</param>
    /// <returns>The MessageId the message will carry.</returns>
    Guid Publish<T>(T message, OutboxMessageOptions? options = null)
        where T : class;

    /// <summary>Stages a send of <paramref name="message"/> to <paramref name="destination"/> (e.g. <c>queue:orders</c>).</summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="destination">The destination address.</param>
    /// <param name="message">The message.</param>
    /// <param name="options">MessageId, ordering key, headers; optional.</param>
    /// <returns>The MessageId the message will carry.</returns>
    Guid Send<T>(Uri destination, T message, OutboxMessageOptions? options = null)
        where T : class;
}
