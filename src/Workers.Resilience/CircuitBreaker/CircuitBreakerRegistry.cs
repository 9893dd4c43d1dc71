using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Workers.Resilience.CircuitBreaker;
using Workers.Resilience.Classification;

namespace Workers.Resilience;

/// <summary>
/// Every endpoint circuit breaker of the process, by name: resolve it from DI to list their states
/// (status API, health check). Register it once as a singleton (<see cref="BreakerConfigurationExtensions.AddWorkersBreakers"/>).
/// </summary>
public sealed class CircuitBreakerRegistry : IDisposable
{
    private readonly ConcurrentDictionary<string, EndpointCircuitBreaker> breakers = new(StringComparer.Ordinal);
    private readonly TimeProvider time;
    private readonly ILoggerFactory loggerFactory;

    /// <summary>Creates the registry.</summary>
    /// <param name="timeProvider">The clock of every breaker (break durations, sampling windows).</param>
    /// <param name="loggerFactory">Where the breakers log their transitions; null for none.</param>
    /// <param name="classification">Which failures are permanent (they never count); null for the built-in rules.</param>
    public CircuitBreakerRegistry(TimeProvider timeProvider, ILoggerFactory? loggerFactory = null, ExceptionClassificationOptions? classification = null)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        time = timeProvider;
        this.loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        Classifier = classification is null ? ExceptionClassifier.Default : new ExceptionClassifier(classification);
    }

    internal ExceptionClassifier Classifier { get; }

    /// <summary>The state of every breaker, ordered by name.</summary>
    public IReadOnlyList<CircuitBreakerSnapshot> GetSnapshots() =>
        [.. breakers.Values.Select(b => b.Snapshot()).OrderBy(s => s.Name, StringComparer.Ordinal)];

    /// <summary>The state of one breaker, or null when no breaker has that name.</summary>
    /// <param name="name">The breaker's name (the endpoint's queue or the dependency's name).</param>
    public CircuitBreakerSnapshot? Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return breakers.TryGetValue(name, out var breaker) ? breaker.Snapshot() : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var breaker in breakers.Values)
        {
            breaker.Dispose();
        }

        breakers.Clear();
    }

    /// <summary>The breaker of that name; the first configuration of a name wins.</summary>
    internal EndpointCircuitBreaker GetOrAdd(string name, CircuitBreakerOptions options) =>
        breakers.GetOrAdd(name, n => new EndpointCircuitBreaker(n, options, time, loggerFactory.CreateLogger("Workers.Resilience.CircuitBreaker")));

    /// <summary>While the bus stops, breakers do not touch their endpoints (no restart at the end of a break).</summary>
    internal void SetBusRunning(bool running)
    {
        foreach (var breaker in breakers.Values)
        {
            breaker.SetBusRunning(running);
        }
    }

    internal EndpointCircuitBreaker? Get(string name) => breakers.TryGetValue(name, out var breaker) ? breaker : null;
}
