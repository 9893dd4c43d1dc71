using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MassTransit;
using Workers.Postgres.Tests.Support;
using Workers.Resilience;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Outbox;

/// <summary>
/// Issue 18: the dispatcher's OpenTelemetry messaging metrics (<c>messaging.client.sent.messages</c>,
/// <c>messaging.client.operation.duration</c>) for confirmed and failed publishes, read through a <see cref="MeterListener"/>.
/// Own database, own vhost; exchanges named per run, so measurements of tests running alongside do not count.
/// </summary>
public sealed class OutboxMessagingMetricsTests(PostgresTestDatabase database, RabbitMqTestVhost vhost) : IClassFixture<PostgresTestDatabase>, IClassFixture<RabbitMqTestVhost>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ConfirmedAndReturnedPublishes_AreSentMessages_WithDurationAndErrorTypeOnlyOnFailure()
    {
        using var recorder = new Recorder();
        await WorkerHost.CreateSchemaAsync(database.ConnectionString, Ct);
        using var host = WorkerHost.Build(
            new WorkerHostSettings { ConnectionString = database.ConnectionString, Broker = vhost.Uri, Queue = "semconv", Consume = false },
            new ConsumerProbe());
        await host.StartAsync(Ct);

        // A send to a queue (MassTransit declares it and the exchange of the same name bound to it) is confirmed;
        // a send to an exchange no queue is bound to is returned by the broker (unroutable), and retried; a publish goes
        // to the message type's exchange (no queue bound here either: only its name is checked).
        var run = Guid.NewGuid().ToString("N");
        var confirmed = $"semconv-ok-{run}";
        var returned = $"semconv-unbound-{run}";
        await WorkerHost.WriteAsync(host.Services, [new OrderPlaced(Guid.NewGuid(), 1)], commit: true, Ct, new Uri($"queue:{confirmed}"));
        var unroutable = await WorkerHost.WriteAsync(host.Services, [new OrderPlaced(Guid.NewGuid(), 2)], commit: true, Ct, new Uri($"exchange:{returned}"));
        await WorkerHost.WriteAsync(host.Services, [new OrderPlaced(Guid.NewGuid(), 3)], commit: true, Ct);

        await Eventually.HoldsAsync(
            async () => recorder.Sent(confirmed).Count >= 1 && recorder.Sent(returned).Count >= 1
                && recorder.Sent(PublishedExchange).Count >= 1
                && await LastErrorAsync(unroutable[0]) is not null,
            Timeout,
            async () => $"sent: {recorder.Sent(confirmed).Count} to {confirmed}, {recorder.Sent(returned).Count} to {returned}, {recorder.Sent(PublishedExchange).Count} to {PublishedExchange}; last error '{await LastErrorAsync(unroutable[0])}'",
            Ct);

        var ok = Assert.Single(recorder.Sent(confirmed));
        Assert.Equal(1, ok.Value);
        AssertConventionTags(ok.Tags, confirmed);
        Assert.False(ok.Tags.ContainsKey("error.type"));
        var okDuration = Assert.Single(recorder.Durations(confirmed));
        Assert.False(okDuration.Tags.ContainsKey("error.type"));
        Assert.InRange(okDuration.Value, double.Epsilon, 3); // the publish timeout is 3 s

        var failed = recorder.Sent(returned)[0];
        AssertConventionTags(failed.Tags, returned);
        var errorType = Assert.IsType<string>(failed.Tags["error.type"]);
        var lastError = await LastErrorAsync(unroutable[0]);
        Assert.Contains(errorType + ":", lastError, StringComparison.Ordinal); // the exception the row records, by its full type name
        Assert.Contains(recorder.Durations(returned), d => (string?)d.Tags.GetValueOrDefault("error.type") == errorType);

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await host.StopAsync(stop.Token);
    }

    [Fact]
    public void Instruments_HaveTheConventionsNamesUnitsAndBuckets()
    {
        using var recorder = new Recorder();
        Workers.Postgres.Outbox.OutboxMetrics.RecordPublish("instrument-check", TimeSpan.Zero, failure: null); // publishes the instruments

        var sent = Assert.IsType<Counter<long>>(recorder.Instrument("messaging.client.sent.messages"));
        Assert.Equal("{message}", sent.Unit);
        var duration = Assert.IsType<Histogram<double>>(recorder.Instrument("messaging.client.operation.duration"));
        Assert.Equal("s", duration.Unit);
        Assert.Equal([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10], duration.Advice?.HistogramBucketBoundaries);
    }

    private Task<string?> LastErrorAsync(Guid id) =>
        Db.ScalarAsync<string?>(database.ConnectionString, "SELECT last_error FROM workers_outbox WHERE id = @id", Ct, ("id", id));

    /// <summary>MassTransit's exchange of a published <see cref="OrderPlaced"/> (its default entity name: namespace:type).</summary>
    private static string PublishedExchange => $"{typeof(OrderPlaced).Namespace}:{nameof(OrderPlaced)}";

    private static void AssertConventionTags(IReadOnlyDictionary<string, object?> tags, string exchange)
    {
        Assert.Equal("rabbitmq", tags["messaging.system"]);
        Assert.Equal(exchange, tags["messaging.destination.name"]);
        Assert.Equal("publish", tags["messaging.operation.name"]);
        Assert.Equal("send", tags["messaging.operation.type"]);
    }

    private sealed record Measured(double Value, IReadOnlyDictionary<string, object?> Tags);

    private sealed class Recorder : IDisposable
    {
        private readonly MeterListener listener = new();
        private readonly ConcurrentDictionary<string, Instrument> instruments = new(StringComparer.Ordinal);
        private readonly ConcurrentQueue<(string Instrument, Measured Measured)> measured = new();

        public Recorder()
        {
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == WorkersTelemetry.Name && instrument.Name is "messaging.client.sent.messages" or "messaging.client.operation.duration")
                {
                    instruments[instrument.Name] = instrument;
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
            listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
            listener.Start();
        }

        public Instrument? Instrument(string name) => instruments.GetValueOrDefault(name);

        public IReadOnlyList<Measured> Sent(string exchange) => Of("messaging.client.sent.messages", exchange);

        public IReadOnlyList<Measured> Durations(string exchange) => Of("messaging.client.operation.duration", exchange);

        public void Dispose() => listener.Dispose();

        private IReadOnlyList<Measured> Of(string instrument, string exchange) =>
            measured.Where(m => m.Instrument == instrument && (string?)m.Measured.Tags.GetValueOrDefault("messaging.destination.name") == exchange).Select(m => m.Measured).ToList();

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var map = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var tag in tags)
            {
                map[tag.Key] = tag.Value;
            }

            measured.Enqueue((instrument.Name, new Measured(value, map)));
        }
    }
}
