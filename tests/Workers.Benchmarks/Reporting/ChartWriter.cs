using ScottPlot;

namespace Workers.Benchmarks.Reporting;

/// <summary>A grouped bar chart (ScottPlot) of the median throughputs, one group per workload, one bar per contender.</summary>
internal static class ChartWriter
{
    private static readonly string[] Throughputs = [Metrics.Drain, Metrics.Publish, Metrics.EndToEnd, Metrics.Failure, Metrics.Outbox];

    public static void Write(RunResults results, string path)
    {
        var contenders = results.ContenderOrder.Concat(results.Samples.Select(s => s.Contender)).Distinct(StringComparer.Ordinal).ToList();
        var metrics = Throughputs.Where(m => contenders.Any(c => results.Summarize(c, m) is not null)).ToList();
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var bars = new List<Bar>();
        var groupWidth = contenders.Count + 1;
        for (var m = 0; m < metrics.Count; m++)
        {
            for (var c = 0; c < contenders.Count; c++)
            {
                if (results.Summarize(contenders[c], metrics[m]) is not { } summary)
                {
                    continue;
                }

                bars.Add(new Bar
                {
                    Position = (m * groupWidth) + c,
                    Value = summary.Median,
                    ValueBase = 0,
                    Error = (summary.Max - summary.Min) / 2,
                    FillColor = palette.GetColor(c),
                });
            }
        }

        plot.Add.Bars(bars);
        var ticks = metrics.Select((m, i) => new Tick((i * groupWidth) + ((contenders.Count - 1) / 2.0), m.Replace(" msg/s", string.Empty, StringComparison.Ordinal))).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Margins(bottom: 0);
        plot.YLabel("messages per second (median; whisker = min–max / 2)");
        plot.Title($"Workers benchmarks — {results.Started:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores");
        for (var c = 0; c < contenders.Count; c++)
        {
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = contenders[c], FillColor = palette.GetColor(c) });
        }

        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 1400, 700);
    }
}
