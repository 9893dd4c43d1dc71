using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Workers.Resilience.Telemetry;

/// <summary>
/// The one <see cref="Meter"/> and <see cref="ActivitySource"/> of the framework, both named <c>Workers</c>.
/// Every state change (redelivery scheduled, circuit opened/closed, endpoint paused, dead-lettered,
/// outbox dispatched) is a log event, a metric and an activity event.
/// </summary>
internal static class WorkersDiagnostics
{
    /// <summary>Name of the meter and the activity source.</summary>
    public const string Name = "Workers";

    public static readonly Meter Meter = new(Name);

    public static readonly ActivitySource ActivitySource = new(Name);

    /// <summary>Adds an event to the current activity, when there is one being recorded.</summary>
    public static void AddEvent(string name, params ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var activity = Activity.Current;
        if (activity is null || !activity.IsAllDataRequested)
        {
            return;
        }

        var collection = new ActivityTagsCollection();
        foreach (var tag in tags)
        {
            collection[tag.Key] = tag.Value;
        }

        activity.AddEvent(new ActivityEvent(name, tags: collection));
    }
}
