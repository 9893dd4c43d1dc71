using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Workers.Resilience.Timeout;

namespace Workers.Resilience;

/// <summary>
/// Every consumer timeout of the process: how many attempts timed out, and which consumers ignore their
/// cancellation (status API). Register it once as a singleton (<see cref="BreakerConfigurationExtensions.AddWorkersBreakers"/>).
/// </summary>
public sealed class ConsumerTimeoutRegistry : IDisposable
{
    private readonly ConcurrentDictionary<string, ConsumerTimeout> timeouts = new(StringComparer.Ordinal);

    /// <summary>Creates the registry.</summary>
    /// <param name="timeProvider">The clock of the timeouts.</param>
    /// <param name="loggerFactory">Where timeouts are logged; null for none.</param>
    public ConsumerTimeoutRegistry(TimeProvider timeProvider, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        TimeProvider = timeProvider;
        Logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Workers.Resilience.Timeout");
    }

    internal TimeProvider TimeProvider { get; }

    internal ILogger Logger { get; }

    /// <summary>The timeouts of every consumer, ordered by consumer.</summary>
    public IReadOnlyList<ConsumerTimeoutSnapshot> GetSnapshots() =>
        [.. timeouts.Values.Select(t => t.Snapshot()).OrderBy(s => s.Consumer, StringComparer.Ordinal)];

    /// <summary>The timeouts of one consumer, or null when it has none.</summary>
    /// <param name="consumer">The consumer's name.</param>
    public ConsumerTimeoutSnapshot? Find(string consumer)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        return timeouts.TryGetValue(consumer, out var timeout) ? timeout.Snapshot() : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var timeout in timeouts.Values)
        {
            timeout.Untrack();
        }

        timeouts.Clear();
    }

    internal ConsumerTimeout GetOrAdd(string consumer, TimeoutOptions options) =>
        timeouts.GetOrAdd(consumer, c => new ConsumerTimeout(c, options));
}
