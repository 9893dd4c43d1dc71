using System.Collections.Concurrent;

namespace Workers.Hosting;

/// <summary>The activity of every receive endpoint the workers configured, by queue (a DI singleton).</summary>
internal sealed class EndpointActivityRegistry(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, EndpointActivity> activities = new(StringComparer.Ordinal);

    public EndpointActivity For(string queue) => activities.GetOrAdd(queue, q => new EndpointActivity(q, time));

    public IReadOnlyList<EndpointActivity> All => [.. activities.Values.OrderBy(a => a.Queue, StringComparer.Ordinal)];
}
