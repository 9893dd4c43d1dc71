using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using MassTransit;

namespace Workers.Resilience.Tests.Integration;

/// <summary>A test message.</summary>
public sealed record RedeliveryProbe(string Text);

/// <summary>One delivery of a message to a test consumer.</summary>
internal sealed record Attempt(Guid? MessageId, Guid? CorrelationId, int RedeliveryCount, TimeSpan At, string? Tenant, byte[] Body, string? ReceivedFrom);

/// <summary>Records every attempt, fails the first N of each message, signals success.</summary>
internal sealed class AttemptRecorder
{
    private static readonly Stopwatch Clock = Stopwatch.StartNew();
    private readonly ConcurrentDictionary<Guid, ConcurrentQueue<Attempt>> attempts = new();
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource<TimeSpan>> successes = new();
    private readonly ConcurrentDictionary<Guid, int> successCounts = new();

    public static TimeSpan Now => Clock.Elapsed;

    /// <summary>How many times to fail a message before it succeeds (per message id); default for unknown ids.</summary>
    public ConcurrentDictionary<Guid, int> FailTimes { get; } = new();

    public int DefaultFailTimes { get; init; }

    public Func<Exception> Failure { get; init; } = () => new TimeoutException("partner did not answer");

    public Task ConsumeAsync(ConsumeContext context)
    {
        var id = context.MessageId ?? Guid.Empty;
        var list = attempts.GetOrAdd(id, _ => new ConcurrentQueue<Attempt>());
        var tenant = context.Headers.Get<string>("tenant");
        list.Enqueue(new Attempt(context.MessageId, context.CorrelationId, context.GetWorkersRedeliveryCount(), Now, tenant, context.ReceiveContext.Body.GetBytes(), (context.ReceiveContext.TryGetPayload<RabbitMqBasicConsumeContext>(out var rmq) ? rmq.Exchange : null)));
        if (list.Count <= FailTimes.GetValueOrDefault(id, DefaultFailTimes))
        {
            throw Failure();
        }

        successCounts.AddOrUpdate(id, 1, (_, n) => n + 1);
        Signal(id).TrySetResult(Now);
        return Task.CompletedTask;
    }

    public IReadOnlyList<Attempt> AttemptsOf(Guid id) => attempts.TryGetValue(id, out var list) ? [.. list] : [];

    public int SuccessesOf(Guid id) => successCounts.GetValueOrDefault(id);

    public async Task<IReadOnlyList<Attempt>> WaitForSuccessAsync(Guid id, TimeSpan timeout)
    {
        try
        {
            await Signal(id).Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Message {id} did not succeed within {timeout}; attempts: {string.Join(", ", AttemptsOf(id).Select(a => $"#{a.RedeliveryCount}@{a.At.TotalMilliseconds:0}ms"))}");
        }

        return AttemptsOf(id);
    }

    public async Task WaitForAttemptsAsync(Guid id, int count, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (AttemptsOf(id).Count < count)
        {
            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"Message {id} had {AttemptsOf(id).Count} attempts, expected {count} within {timeout}.");
            }

            await Task.Delay(20);
        }
    }

    private TaskCompletionSource<TimeSpan> Signal(Guid id) =>
        successes.GetOrAdd(id, _ => new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously));
}

/// <summary>Listens to the Workers meter: signals when a redelivery was scheduled or a message dead-lettered for a queue.</summary>
internal sealed class WorkersMeterProbe : IDisposable
{
    private readonly MeterListener listener = new();
    private readonly ConcurrentDictionary<(string Instrument, string Queue), int> counts = new();

    public WorkersMeterProbe()
    {
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == WorkersTelemetry.Name)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "queue" && tag.Value is string queue)
                {
                    counts.AddOrUpdate((instrument.Name, queue), (int)value, (_, n) => n + (int)value);
                }
            }
        });
        listener.Start();
    }

    public int Count(string instrument, string queue) => counts.GetValueOrDefault((instrument, queue));

    public async Task WaitAsync(string instrument, string queue, int count, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (Count(instrument, queue) < count)
        {
            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"{instrument} for {queue} reached {Count(instrument, queue)}, expected {count} within {timeout}.");
            }

            await Task.Delay(10);
        }
    }

    public void Dispose() => listener.Dispose();
}

/// <summary>Raw AMQP helpers for assertions.</summary>
internal static class RawAmqp
{
    public static async Task<RabbitMQ.Client.BasicGetResult> GetAsync(Uri uri, string queue, TimeSpan timeout)
    {
        var factory = new RabbitMQ.Client.ConnectionFactory { Uri = uri };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var result = await channel.BasicGetAsync(queue, autoAck: true);
                if (result is not null)
                {
                    return result;
                }
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException) when (deadline.Elapsed < timeout)
            {
                // the queue does not exist yet: the channel is closed, open another.
                await channel.DisposeAsync();
                return await GetAsync(uri, queue, timeout - deadline.Elapsed);
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"No message in '{queue}' within {timeout}.");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Ready messages in a queue (passive declare: exact, unlike the management statistics), or -1 when it does not exist.</summary>
    public static async Task<long> CountAsync(Uri uri, string queue)
    {
        var factory = new RabbitMQ.Client.ConnectionFactory { Uri = uri };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            return -1;
        }
    }

    public static async Task PublishAsync(Uri uri, string queue, string contentType, byte[] body, Guid messageId)
    {
        var factory = new RabbitMQ.Client.ConnectionFactory { Uri = uri };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new RabbitMQ.Client.CreateChannelOptions(true, true));
        var properties = new RabbitMQ.Client.BasicProperties { ContentType = contentType, MessageId = messageId.ToString(), Persistent = true };
        await channel.BasicPublishAsync(string.Empty, queue, true, properties, body);
    }

    public static string Text(object? value) => value switch
    {
        byte[] bytes => Encoding.UTF8.GetString(bytes),
        null => "",
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };
}
