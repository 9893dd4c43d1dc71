using System.Collections.Concurrent;

namespace Workers.Benchmarks.Reporting;

/// <summary>The metrics every contender is measured on; throughput is messages per second, latency milliseconds.</summary>
internal static class Metrics
{
    public const string Publish = "publish msg/s";
    public const string PublishCpu = "publish CPU µs/msg";
    public const string DrainCpu = "consume-drain CPU µs/msg";
    public const string Drain = "consume-drain msg/s";
    public const string EndToEnd = "end-to-end msg/s";
    public const string LatencyRate = "latency: offered rate msg/s";
    public const string LatencyP50 = "latency p50 ms";
    public const string LatencyP99 = "latency p99 ms";
    public const string LatencyP999 = "latency p99.9 ms";
    public const string Outbox = "outbox end-to-end msg/s";
    public const string OutboxEnqueue = "outbox enqueue tx/s (no relay)";
    public const string OutboxDrain = "outbox relay drain msg/s";
    public const string OutboxP50 = "outbox commit→consume p50 ms";
    public const string OutboxP99 = "outbox commit→consume p99 ms";
    public const string Failure = "failure-path msg/s";

    public static IReadOnlyList<string> All { get; } = [Drain, DrainCpu, Publish, PublishCpu, EndToEnd, LatencyRate, LatencyP50, LatencyP99, LatencyP999, Outbox, OutboxEnqueue, OutboxDrain, OutboxP50, OutboxP99, Failure];

    public static bool LowerIsBetter(string metric) => metric.StartsWith("latency p", StringComparison.Ordinal) || metric == DrainCpu || metric == PublishCpu || metric == OutboxP50 || metric == OutboxP99;
}

/// <summary>One measured value.</summary>
internal sealed record Sample(string Contender, string Metric, int Round, double Value);

/// <summary>Everything one run measured: calibration, samples, settings and problems.</summary>
internal sealed class RunResults
{
    private readonly ConcurrentQueue<Sample> samples = new();
    private readonly ConcurrentQueue<string> problems = new();

    public DateTimeOffset Started { get; } = DateTimeOffset.UtcNow;

    public double? BrokerCeiling { get; set; }

    public double? CommitRate { get; set; }

    public int CommitCount { get; set; }

    /// <summary>Connections of the multi-connection commit calibration: the outbox workloads' window and the inbox's concurrency (the default prefetch).</summary>
    public static IReadOnlyList<int> CommitCeilingConnections { get; } = [16, 100];

    /// <summary>Commits/s with that many connections committing at once.</summary>
    public SortedDictionary<int, double> CommitCeiling { get; } = [];

    public Dictionary<string, string> Settings { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string> Notes { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string> BrokerPrefetch { get; } = new(StringComparer.Ordinal);

    public List<string> ContenderOrder { get; } = [];

    public IEnumerable<Sample> Samples => samples;

    public IEnumerable<string> Problems => problems;

    public void Add(string contender, string metric, int round, double value) => samples.Enqueue(new Sample(contender, metric, round, value));

    public void Problem(string text) => problems.Enqueue(text);

    /// <summary>Median, minimum and maximum of a contender's metric over the rounds, or null when never measured.</summary>
    public Summary? Summarize(string contender, string metric)
    {
        var values = samples.Where(s => s.Contender == contender && s.Metric == metric).Select(s => s.Value).Order().ToArray();
        return values.Length == 0 ? null : new Summary(Median(values), values[0], values[^1], values.Length);
    }

    internal static double Median(IReadOnlyList<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
}

/// <summary>Median and spread of one metric.</summary>
internal sealed record Summary(double Median, double Min, double Max, int Rounds)
{
    /// <summary>(max − min) / median, in percent.</summary>
    public double SpreadPercent => Median == 0 ? 0 : (Max - Min) / Median * 100;
}
