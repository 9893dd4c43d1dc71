using System.Text.Json;
using MassTransit;
using MassTransit.Serialization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Workers.Postgres.Storage;

namespace Workers.Postgres.Outbox;

/// <summary>
/// Stages outbox rows in the scope's <typeparamref name="TDbContext"/>. While the inbox runs a consumer in this scope,
/// MessageIds are derived from (inbound MessageId, consumer, position) — the same on every run of that consume —
/// otherwise they are new sequential ids; <see cref="OutboxMessageOptions.MessageId"/> overrides both.
/// The row keeps the staging trace and, staged while a message is consumed, its conversation (<see cref="OutboxContextHeaders"/>).
/// </summary>
internal sealed class WorkersOutbox<TDbContext>(TDbContext context, TimeProvider timeProvider, OutboxConsumeScope consumeScope, IServiceProvider services) : IWorkersOutbox, IOutboxSendStaging
    where TDbContext : DbContext
{
    private static long lastTicks;

    // Resolved once per scope (the outbox is scoped): a consumer staging many messages pays for the lookup once.
    private MassTransit.DependencyInjection.IScopedConsumeContextProvider? consumeContexts;
    private bool consumeContextsResolved;

    public Guid Publish<T>(T message, OutboxMessageOptions? options = null)
        where T : class => Stage(null, message, options);

    public Guid Send<T>(Uri destination, T message, OutboxMessageOptions? options = null)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(destination);
        return Stage(destination, message, options);
    }

        /// <summary>Now, but strictly after every earlier value handed out in this process (1 µs steps: PostgreSQL's resolution).</summary>
    internal static DateTimeOffset MonotonicNow(TimeProvider timeProvider)
    {
        var now = timeProvider.GetUtcNow().UtcTicks / 10 * 10;
        while (true)
        {
            var last = Volatile.Read(ref lastTicks);
            var next = Math.Max(now, last + 10);
            if (Interlocked.CompareExchange(ref lastTicks, next, last) == last)
            {
                return new DateTimeOffset(next, TimeSpan.Zero);
            }
        }
    }

    internal static string TypeName(Type type) => $"{type.FullName}, {type.Assembly.GetName().Name}";

    /// <summary>
    /// A message MassTransit built for the consumer's own <c>context.Publish</c>/<c>Send</c>/<c>Respond</c>
    /// (<see cref="OutboxConsumeContext{TMessage}"/>): staged as <typeparamref name="T"/>, with the id rules of
    /// <see cref="Publish{T}"/> (a MessageId set in the publish pipe is replaced by the derived one, as re-runs must
    /// reproduce it), the pipe's headers, and its correlation, request, response and fault addresses carried to the wire.
    /// </summary>
    public Guid StageSent<T>(Uri? destination, SendContext<T> sent)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(sent);
        if (sent.Delay is not null || sent.TimeToLive is not null)
        {
            throw new NotSupportedException($"Workers' outbox does not carry a {(sent.Delay is not null ? "delay" : "time-to-live")} ({typeof(T).Name}): publish it without one, or through the bus outside the inbox transaction.");
        }

        var options = new OutboxMessageOptions();
        foreach (var (key, value) in sent.Headers.GetAll())
        {
            if (!key.StartsWith(OutboxContextHeaders.ReservedPrefix, StringComparison.Ordinal) && HeaderText(value) is { } text)
            {
                options.Headers[key] = text;
            }
        }

        return Stage(destination, sent.Message, typeof(T), options, headers => OutboxContextHeaders.CaptureSent(headers, sent));
    }

    private static string? HeaderText(object? value) => value switch
    {
        null => null,
        string text => text,
        Guid id => id.ToString("D"),
        Uri uri => uri.ToString(),
        IFormattable formattable => formattable.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        bool flag => flag ? "true" : "false",
        _ => null, // structured values (MassTransit's own, e.g. fault details) are not strings on the wire either
    };

    private Guid Stage<T>(Uri? destination, T message, OutboxMessageOptions? options)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(message);
        return Stage(destination, message, message.GetType(), options, null);
    }

    private Guid Stage(Uri? destination, object message, Type type, OutboxMessageOptions? options, Action<IDictionary<string, string>>? addSent)
    {
        var derived = consumeScope.Next(); // every staged message takes a position, explicit ids included
        var row = new OutboxMessage
        {
            Id = options?.MessageId ?? derived ?? NewId.NextGuid(),
            MessageType = TypeName(type),
            Body = JsonSerializer.Serialize(message, type, SystemTextJsonMessageSerializer.Options),
            Destination = destination?.ToString(),
            Headers = HeadersOf(options, addSent),
            OrderingKey = options?.OrderingKey,
            CreatedAt = MonotonicNow(timeProvider),
        };
        context.Set<OutboxMessage>().Add(row);
        return row.Id;
    }

    private string? HeadersOf(OutboxMessageOptions? options, Action<IDictionary<string, string>>? addSent)
    {
        if (!consumeContextsResolved)
        {
            consumeContexts = services.GetService<MassTransit.DependencyInjection.IScopedConsumeContextProvider>();
            consumeContextsResolved = true;
        }

        var consuming = consumeContexts is { HasContext: true } provider ? provider.GetContext() : null;
        var activity = System.Diagnostics.Activity.Current;
        if (activity is null && consuming is null && addSent is null && options?.Headers is not { Count: > 0 })
        {
            return null;
        }

        var headers = options?.Headers is { } given ? new Dictionary<string, string>(given, StringComparer.Ordinal) : new Dictionary<string, string>(StringComparer.Ordinal);
        OutboxContextHeaders.Capture(headers, activity, consuming);
        addSent?.Invoke(headers);
        return headers.Count > 0 ? JsonSerializer.Serialize(headers) : null;
    }
}
