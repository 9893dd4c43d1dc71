using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Workers.Resilience.CircuitBreaker;
using Workers.Resilience.Telemetry;
using Xunit;

namespace Workers.Resilience.Tests.CircuitBreaker;

public sealed class CircuitBreakerTelemetryTests
{
    [Theory]
    [InlineData(CircuitState.Closed, "closed")]
    [InlineData(CircuitState.Open, "open")]
    [InlineData(CircuitState.HalfOpen, "half_open")]
    public void Status_IsOneSeriesPerState_OneOnTheCurrentOne(CircuitState state, string label)
    {
        var series = CircuitBreakerTelemetry.StatusOf("payments", state).ToList();

        Assert.Equal(3, series.Count);
        Assert.All(series, m => Assert.Contains(m.Tags.ToArray(), t => t.Key == "circuit" && (string?)t.Value == "payments"));
        var current = Assert.Single(series, m => m.Value == 1);
        Assert.Contains(current.Tags.ToArray(), t => t.Key == CircuitBreakerTelemetry.StateAttribute && (string?)t.Value == label);
        Assert.Equal(2, series.Count(m => m.Value == 0));
    }

    [Fact]
    public void StatusGauge_IsPublishedOnTheWorkersMeter_ForALiveBreaker()
    {
        var name = $"telemetry-{Guid.NewGuid():N}";
        using var breaker = new EndpointCircuitBreaker(name, new CircuitBreakerOptions(), new FakeTimeProvider(), NullLogger.Instance);
        var seen = new List<(int Value, string? State)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == WorkersTelemetry.Name && instrument.Name == CircuitBreakerTelemetry.StatusInstrument)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, value, tags, _) =>
        {
            var circuit = tags.ToArray().FirstOrDefault(t => t.Key == "circuit").Value as string;
            if (circuit == name)
            {
                seen.Add((value, tags.ToArray().FirstOrDefault(t => t.Key == CircuitBreakerTelemetry.StateAttribute).Value as string));
            }
        });
        listener.Start();

        listener.RecordObservableInstruments();

        Assert.Equal([(1, "closed"), (0, "open"), (0, "half_open")], seen);
    }
}
