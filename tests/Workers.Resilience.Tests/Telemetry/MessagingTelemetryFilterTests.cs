using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Workers.Resilience.Telemetry;
using Workers.Resilience.Tests.Integration;
using Xunit;

namespace Workers.Resilience.Tests.Telemetry;

/// <summary>The messaging telemetry stage on MassTransit's in-memory transport, observed through a <see cref="MeterListener"/>: no services.</summary>
public sealed class MessagingTelemetryFilterTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SuccessfulDelivery_CountsOnce_AndTimesTheProcessing_WithoutErrorType()
    {
        var queue = UniqueQueue();
        var time = new FakeTimeProvider();
        using var recorder = new Recorder(queue, durations: 1);

        await RunAsync(queue, time, configureRedelivery: null, _ =>
        {
            time.Advance(TimeSpan.FromMilliseconds(250));
            return Task.CompletedTask;
        });
        await recorder.Done.WaitAsync(TimeSpan.FromSeconds(10), Token);

        var consumed = Assert.Single(recorder.Consumed);
        Assert.Equal(1, consumed.Value);
        AssertConventionTags(consumed.Tags, queue);
        Assert.False(consumed.Tags.ContainsKey(MessagingConventions.ErrorTypeAttribute));

        var duration = Assert.Single(recorder.Durations);
        Assert.Equal(0.25, duration.Value, precision: 9);
        AssertConventionTags(duration.Tags, queue);
        Assert.False(duration.Tags.ContainsKey(MessagingConventions.ErrorTypeAttribute));
    }

    [Fact]
    public async Task FailedProcessing_RecordsTheDuration_WithTheExceptionsFullTypeName()
    {
        var queue = UniqueQueue();
        var time = new FakeTimeProvider();
        using var recorder = new Recorder(queue, durations: 1);

        await RunAsync(queue, time, configureRedelivery: null, _ =>
        {
            time.Advance(TimeSpan.FromSeconds(2));
            throw new InvalidOperationException("the consumer failed");
        });
        await recorder.Done.WaitAsync(TimeSpan.FromSeconds(10), Token);

        var duration = Assert.Single(recorder.Durations);
        Assert.Equal(2, duration.Value, precision: 9);
        AssertConventionTags(duration.Tags, queue);
        Assert.Equal(typeof(InvalidOperationException).FullName, duration.Tags[MessagingConventions.ErrorTypeAttribute]);

        // The delivery itself did not fail: the counter never carries error.type.
        var consumed = Assert.Single(recorder.Consumed);
        Assert.False(consumed.Tags.ContainsKey(MessagingConventions.ErrorTypeAttribute));
    }

    [Fact]
    public async Task ImmediateRetries_AreAttempts_OfOneDelivery()
    {
        var queue = UniqueQueue();
        var time = new FakeTimeProvider();
        using var recorder = new Recorder(queue, durations: 3);
        var attempts = 0;

        await RunAsync(queue, time, new RedeliveryOptions { ImmediateRetries = 2, ImmediateRetryDelay = TimeSpan.Zero }, _ =>
        {
            time.Advance(TimeSpan.FromMilliseconds(10));
            return Interlocked.Increment(ref attempts) < 3 ? throw new TimeoutException("transient") : Task.CompletedTask;
        });
        await recorder.Done.WaitAsync(TimeSpan.FromSeconds(10), Token);

        Assert.Equal(3, attempts);
        Assert.Single(recorder.Consumed);
        Assert.Equal(3, recorder.Durations.Count);
        Assert.Equal(2, recorder.Durations.Count(d => (string?)d.Tags.GetValueOrDefault(MessagingConventions.ErrorTypeAttribute) == typeof(TimeoutException).FullName));
        Assert.Single(recorder.Durations, d => !d.Tags.ContainsKey(MessagingConventions.ErrorTypeAttribute));
        Assert.All(recorder.Durations, d => Assert.Equal(0.01, d.Value, precision: 9));
    }

    [Fact]
    public void Instruments_HaveTheConventionsNamesUnitsAndBuckets()
    {
        using var recorder = new Recorder(UniqueQueue(), durations: 0);
        _ = new MessagingTelemetryFilter(new MessagingTelemetrySettings("any", TimeProvider.System)); // publishes the instruments

        var consumed = Assert.IsType<Counter<long>>(recorder.Instrument(MessagingConventions.ConsumedMessages));
        Assert.Equal("messaging.client.consumed.messages", consumed.Name);
        Assert.Equal("{message}", consumed.Unit);

        var duration = Assert.IsType<Histogram<double>>(recorder.Instrument(MessagingConventions.ProcessDuration));
        Assert.Equal("messaging.process.duration", duration.Name);
        Assert.Equal("s", duration.Unit);
        Assert.Equal([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10], duration.Advice?.HistogramBucketBoundaries);
    }

    [Fact]
    public void EmptyDestination_IsAValidationFailure()
    {
        var specification = new MessagingTelemetrySpecification(new MessagingTelemetrySettings(" ", TimeProvider.System));

        var failure = Assert.Single(specification.Validate());
        Assert.Contains("destination", failure.Message, StringComparison.Ordinal);
    }

    private static void AssertConventionTags(IReadOnlyDictionary<string, object?> tags, string queue)
    {
        Assert.Equal("rabbitmq", tags["messaging.system"]);
        Assert.Equal(queue, tags["messaging.destination.name"]);
        Assert.Equal("process", tags["messaging.operation.name"]);
        Assert.Equal("process", tags["messaging.operation.type"]);
        Assert.False(tags.ContainsKey("messaging.consumer.group.name")); // not defined for RabbitMQ
    }

    private static string UniqueQueue() => $"semconv-{Guid.NewGuid():N}";

    /// <summary>An in-memory endpoint with (optionally) redelivery in front of the telemetry stage, as AddWorkers orders them; one message sent.</summary>
    private static async Task RunAsync(string queue, TimeProvider time, RedeliveryOptions? configureRedelivery, Func<ConsumeContext<RedeliveryProbe>, Task> handler)
    {
        var services = new ServiceCollection();
        services.AddSingleton(time);
        services.AddWorkersRedelivery(new Uri("amqp://guest:guest@127.0.0.1:1/"));
        await using var provider = services.BuildServiceProvider();
        var handled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var bus = Bus.Factory.CreateUsingInMemory(cfg => cfg.ReceiveEndpoint(queue, e =>
        {
            if (configureRedelivery is not null)
            {
                e.UseWorkersRedelivery(provider, configureRedelivery);
            }

            e.UseWorkersMessagingTelemetry(provider);
            e.Handler<RedeliveryProbe>(async context =>
            {
                try
                {
                    await handler(context);
                    handled.TrySetResult();
                }
                catch
                {
                    handled.TrySetResult();
                    throw;
                }
            });
        }));
        await bus.StartAsync(Token);
        try
        {
            await (await bus.GetSendEndpoint(new Uri($"queue:{queue}"))).Send(new RedeliveryProbe("x"), Token);
            await handled.Task.WaitAsync(TimeSpan.FromSeconds(10), Token);
        }
        finally
        {
            await bus.StopAsync(Token);
        }
    }

    private sealed record Measured(double Value, IReadOnlyDictionary<string, object?> Tags);

    /// <summary>Listens to the two consumer instruments on the <c>Workers</c> meter, for one destination.</summary>
    private sealed class Recorder : IDisposable
    {
        private readonly MeterListener listener = new();
        private readonly ConcurrentDictionary<string, Instrument> instruments = new(StringComparer.Ordinal);
        private readonly ConcurrentQueue<Measured> consumed = new();
        private readonly ConcurrentQueue<Measured> durations = new();
        private readonly TaskCompletionSource done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Recorder(string destination, int durations)
        {
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == WorkersTelemetry.Name && instrument.Name is MessagingConventions.ConsumedMessages or MessagingConventions.ProcessDuration)
                {
                    instruments[instrument.Name] = instrument;
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags, destination, durations));
            listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags, destination, durations));
            listener.Start();
        }

        public Task Done => done.Task;

        public IReadOnlyList<Measured> Consumed => consumed.ToArray();

        public IReadOnlyList<Measured> Durations => durations.ToArray();

        public Instrument? Instrument(string name) => instruments.GetValueOrDefault(name);

        public void Dispose() => listener.Dispose();

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags, string destination, int expected)
        {
            var map = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var tag in tags)
            {
                map[tag.Key] = tag.Value;
            }

            if ((string?)map.GetValueOrDefault(MessagingConventions.DestinationNameAttribute) != destination)
            {
                return;
            }

            var target = instrument.Name == MessagingConventions.ConsumedMessages ? consumed : durations;
            target.Enqueue(new Measured(value, map));
            if (durations.Count >= expected)
            {
                done.TrySetResult();
            }
        }
    }
}
