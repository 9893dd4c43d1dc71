using System.Globalization;
using System.Text.RegularExpressions;
using Workers.Hosting;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Hosting;

/// <summary>A worker process's Prometheus figures, read from its <c>/metrics</c>.</summary>
internal static partial class WorkerMetrics
{
    /// <summary>Polls (every 200 ms, bounded) the sum of a metric's series until <paramref name="condition"/> holds.</summary>
    public static async Task<double> WaitAsync(HttpClient http, string name, Func<double, bool> condition, WorkerProcess worker, TimeSpan bound)
    {
        var deadline = DateTime.UtcNow + bound;
        var last = 0.0;
        while (DateTime.UtcNow < deadline)
        {
            var text = await http.GetStringAsync(WorkersHealth.MetricsPath, TestContext.Current.CancellationToken);
            last = MetricLine().Matches(text).Where(m => m.Groups[1].Value == name).Sum(m => double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
            if (condition(last))
            {
                return last;
            }

            await Task.Delay(200, TestContext.Current.CancellationToken);
        }

        throw new TimeoutException($"Metric {name} stayed at {last}.\n{worker.Output}");
    }

    [GeneratedRegex(@"^(\w+)(?:\{[^}]*\})? ([0-9.eE+-]+)", RegexOptions.Multiline)]
    private static partial Regex MetricLine();
}
