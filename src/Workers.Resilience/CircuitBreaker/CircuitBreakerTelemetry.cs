using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Workers.Resilience.Telemetry;

namespace Workers.Resilience.CircuitBreaker;

/// <summary>Instruments of the circuit breakers: <c>workers.circuit.state</c> and <c>workers.circuit.transitions</c>.</summary>
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
            description: "Circuit breaker state per circuit: 0 closed, 1 open, 2 half-open.");
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

    private static IEnumerable<Measurement<int>> Observe()
    {
        foreach (var breaker in Live.Keys)
        {
            yield return new Measurement<int>((int)breaker.State, new KeyValuePair<string, object?>("circuit", breaker.Name));
        }
    }
}
