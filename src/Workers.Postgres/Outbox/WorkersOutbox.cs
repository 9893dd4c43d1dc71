using System.Text.Json;
using MassTransit;
using MassTransit.Serialization;
using Microsoft.EntityFrameworkCore;
using Workers.Postgres.Storage;

namespace Workers.Postgres.Outbox;

/// <summary>Stages outbox rows in the scope's <typeparamref name="TDbContext"/>.</summary>
internal sealed class WorkersOutbox<TDbContext>(TDbContext context, TimeProvider timeProvider) : IWorkersOutbox
    where TDbContext : DbContext
{
    public Guid Publish<T>(T message, OutboxMessageOptions? options = null)
        where T : class => Stage(null, message, options);

    public Guid Send<T>(Uri destination, T message, OutboxMessageOptions? options = null)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(destination);
        return Stage(destination, message, options);
    }

    internal static string TypeName(Type type) => $"{type.FullName}, {type.Assembly.GetName().Name}";

    private Guid Stage<T>(Uri? destination, T message, OutboxMessageOptions? options)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(message);
        var type = message.GetType();
        var row = new OutboxMessage
        {
            Id = options?.MessageId ?? NewId.NextGuid(),
            MessageType = TypeName(type),
            Body = JsonSerializer.Serialize(message, type, SystemTextJsonMessageSerializer.Options),
            Destination = destination?.ToString(),
            Headers = options is { Headers.Count: > 0 } ? JsonSerializer.Serialize(options.Headers) : null,
            OrderingKey = options?.OrderingKey,
            CreatedAt = timeProvider.GetUtcNow(),
        };
        context.Set<OutboxMessage>().Add(row);
        return row.Id;
    }
}
