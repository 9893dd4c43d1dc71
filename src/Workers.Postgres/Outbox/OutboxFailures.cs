using RabbitMQ.Client.Exceptions;

namespace Workers.Postgres.Outbox;

/// <summary>Pure classification of a failed dispatch (unit-tested).</summary>
internal static class OutboxFailures
{
    /// <summary>
    /// <see cref="OutboxFailureKind.Row"/> when the row could not even be turned into a message (nothing reached the
    /// broker); <see cref="OutboxFailureKind.Unroutable"/> when the broker returned the mandatory publish
    /// (<c>basic.return</c>, e.g. 312 NO_ROUTE: no queue bound; MassTransit faults the publish with a
    /// <c>MessageReturnedException</c> around the client's <see cref="PublishReturnException"/>);
    /// <see cref="OutboxFailureKind.Broker"/> otherwise.
    /// </summary>
    public static OutboxFailureKind Classify(Exception exception, bool preparing)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (preparing)
        {
            return OutboxFailureKind.Row;
        }

        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is PublishReturnException)
            {
                return OutboxFailureKind.Unroutable;
            }
        }

        return OutboxFailureKind.Broker;
    }
}
