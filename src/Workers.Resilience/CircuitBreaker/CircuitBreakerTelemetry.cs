using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Workers.Resilience.Telemetry;

namespace Workers.Resilience.CircuitBreaker;

/// <summary>
/// Instruments of the circuit breakers: <c>workers.circuit.status</c> (one series per circuit and state, 1 for the
/// current state, 0 for the others: "which circuits are open" is a filter, not a decoding of numbers),
/// <c>workers.circuit.transitions</c>, <c>workers.circuit.deferred_probes</c>, and the deprecated numeric
/// <c>workers.circuit.state</c> (0 closed, 1 open, 2 half-open; kept for existing dashboards).
/// </summary>
internal static class CircuitBreakerTelemetry
{
    private static readonly ConcurrentDictionary<EndpointCircuitBreaker, byte> Live = new();

    private static readonly Counter<long> Transitions = WorkersDiagnostics.Meter.CreateCounter<long>(
        "workers.circuit.transitions", unit: "{transition}", description: "Circuit breaker state changes, tagged circuit, from, to.");

    private static readonly Counter<long> DeferredProbes = WorkersDiagnostics.Meter.CreateCounter<long>(
        "workers.circuit.deferred_probes", unit: "{message}", description: "Half-open probes that failed again and were deferred without a verdict, tagged circuit.");

    static CircuitBreakerTelemetry()
    {
        WorkersDiagnostics.Meter.CreateObservableGauge(
            "workers.circuit.state",
            Observe,
            unit: "{state}",
            description: "Deprecated: use workers.circuit.status. Circuit breaker state per circuit: 0 closed, 1 open, 2 half-open.");
        WorkersDiagnostics.Meter.CreateObservableGauge(
            StatusInstrument,
            ObserveStatus,
            unit: "{circuit}",
            description: "Circuit breaker state as labelled series: per circuit, 1 on its current state (workers.circuit.state = closed, open, half_open), 0 on the others.");
    }

    /// <summary>The labelled state gauge's name.</summary>
    internal const string StatusInstrument = "workers.circuit.status";

    /// <summary>The state attribute of <see cref="StatusInstrument"/>.</summary>
    internal const string StateAttribute = "workers.circuit.state";

    private static readonly (CircuitState State, string Label)[] States =
        [(CircuitState.Closed, "closed"), (CircuitState.Open, "open"), (CircuitState.HalfOpen, "half_open")];

    /// <summary>The series of one circuit's state: one per state, 1 on the current one. Pure.</summary>
    internal static IEnumerable<Measurement<int>> StatusOf(string circuit, CircuitState current)
    {
        foreach (var (state, label) in States)
        {
            yield return new Measurement<int>(state == current ? 1 : 0, new KeyValuePair<string, object?>("circuit", circuit), new KeyValuePair<string, object?>(StateAttribute, label));
        }
    }

    public static void Track(EndpointCircuitBreaker breaker) => Live.TryAdd(breaker, 0);

    public static void Untrack(EndpointCircuitBreaker breaker) => Live.TryRemove(breaker, out _);

    public static void Transitioned(string circuit, CircuitTransition transition)
    {
        Transitions.Add(1, new("circuit", circuit), new("from", transition.From.ToString()), new("to", transition.To.ToString()));
        WorkersDiagnostics.AddEvent("workers.circuit.transition", new("circuit", circuit), new("from", transition.From.ToString()), new("to", transition.To.ToString()));
    }

    public static void ProbeDeferred(string circuit)
    {
        DeferredProbes.Add(1, new KeyValuePair<string, object?>("circuit", circuit));
        WorkersDiagnostics.AddEvent("workers.circuit.probe_deferred", new KeyValuePair<string, object?>("circuit", circuit));
    }

    private static IEnumerable<Measurement<int>> ObserveStatus() => Live.Keys.SelectMany(b => StatusOf(b.Name, b.State));

    private static IEnumerable<Measurement<int>> Observe()
    {
        foreach (var breaker in Live.Keys)
        {
            yield return new Measurement<int>((int)breaker.State, new KeyValuePair<string, object?>("circuit", breaker.Name));
        }
    }
}
