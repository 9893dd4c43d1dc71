using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Workers.Resilience.Bulkhead;

namespace Workers.Resilience;

/// <summary>
/// Every consumer bulkhead of the process: read their state and change their limits at run time, without a
/// restart. Register it once as a singleton (<see cref="BreakerConfigurationExtensions.AddWorkersBreakers"/>).
/// </summary>
public sealed class BulkheadRegistry : IDisposable
{
    private readonly ConcurrentDictionary<string, ConsumerBulkhead> bulkheads = new(StringComparer.Ordinal);

    /// <summary>Creates the registry.</summary>
    /// <param name="loggerFactory">Where limit changes and overflows are logged; null for none.</param>
    public BulkheadRegistry(ILoggerFactory? loggerFactory = null)
        : this(loggerFactory, TimeProvider.System)
    {
    }

    /// <summary>Creates the registry on a clock.</summary>
    /// <param name="loggerFactory">Where limit changes and overflows are logged; null for none.</param>
    /// <param name="timeProvider">The clock of the pause before an overflowing message is requeued.</param>
    public BulkheadRegistry(ILoggerFactory? loggerFactory, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        Logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Workers.Resilience.Bulkhead");
        Time = timeProvider;
    }

    internal ILogger Logger { get; }

    internal TimeProvider Time { get; }

    /// <summary>The state of every bulkhead, ordered by consumer.</summary>
    public IReadOnlyList<BulkheadSnapshot> GetSnapshots() =>
        [.. bulkheads.Values.Select(b => b.Snapshot()).OrderBy(s => s.Consumer, StringComparer.Ordinal)];

    /// <summary>The state of one consumer's bulkhead, or null when it has none.</summary>
    /// <param name="consumer">The consumer's name.</param>
    public BulkheadSnapshot? Find(string consumer)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        return bulkheads.TryGetValue(consumer, out var bulkhead) ? bulkhead.Snapshot() : null;
    }

    /// <summary>
    /// Changes a consumer's limits at once. A higher permit limit admits waiting messages immediately; a lower one
    /// lets running messages finish. Returns false when the consumer has no bulkhead.
    /// </summary>
    /// <param name="consumer">The consumer's name.</param>
    /// <param name="permitLimit">The new permit limit.</param>
    /// <param name="queueLimit">The new queue limit; null keeps the current one.</param>
    /// <exception cref="ArgumentException">A limit is out of range.</exception>
    public bool TrySetLimits(string consumer, int permitLimit, int? queueLimit = null)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        if (!bulkheads.TryGetValue(consumer, out var bulkhead))
        {
            return false;
        }

        var options = new BulkheadOptions { PermitLimit = permitLimit, QueueLimit = queueLimit ?? bulkhead.Snapshot().QueueLimit };
        var errors = options.Validate($"Bulkhead:{consumer}");
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, errors));
        }

        var before = bulkhead.Snapshot();
        bulkhead.SetLimits(options.PermitLimit, options.QueueLimit);
        BulkheadLog.LimitsChanged(Logger, consumer, before.PermitLimit, before.QueueLimit, options.PermitLimit, options.QueueLimit);
        Telemetry.WorkersDiagnostics.AddEvent("workers.bulkhead.limits_changed", new("consumer", consumer), new("permit_limit", options.PermitLimit), new("queue_limit", options.QueueLimit));
        return true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var bulkhead in bulkheads.Values)
        {
            bulkhead.Untrack();
        }

        bulkheads.Clear();
    }

    /// <summary>The bulkhead of that consumer; the first configuration of a name wins (so two endpoints with the same consumer share it).</summary>
    internal ConsumerBulkhead GetOrAdd(string consumer, BulkheadOptions options) =>
        bulkheads.GetOrAdd(consumer, c => new ConsumerBulkhead(c, options));
}
