using System.Globalization;
using System.Text;

namespace Workers.Benchmarks.Reporting;

/// <summary>Writes the markdown report: calibration, settings, a table of medians with spread, and Workers' ratios.</summary>
internal static class ReportWriter
{
    public const string Workers = "workers";
    private static readonly (string Label, string Contender)[] RatioTargets =
    [
        ("Workers/raw", "raw"),
        ("Workers/MT default", "masstransit-default"),
        ("Workers/MT tuned", "masstransit-tuned"),
        ("Workers/Wolverine", "wolverine"),
        ("Workers/Wolverine inbox", WolverineInbox),
    ];

    /// <summary>Wolverine's durable inbox: the reference for the <c>workers-inbox</c> rows only.</summary>
    private const string WolverineInbox = "wolverine-inbox";

    private static bool Compared(string mine, string other) => other != WolverineInbox || mine.StartsWith("workers-inbox", StringComparison.Ordinal);

    /// <summary>The table alone (printed to stdout too).</summary>
    public static string Table(RunResults results)
    {
        var contenders = results.ContenderOrder.Concat(results.Samples.Select(s => s.Contender)).Distinct(StringComparer.Ordinal).ToList();
        // Ratios of every Workers row (workers, workers-inbox, variants) to each reference contender present.
        var ratios = (from mine in contenders.Where(c => c.StartsWith(Workers, StringComparison.Ordinal))
                      from target in RatioTargets.Where(r => contenders.Contains(r.Contender) && Compared(mine, r.Contender))
                      select (Label: mine == Workers ? target.Label : target.Label.Replace("Workers", mine, StringComparison.Ordinal), Mine: mine, target.Contender)).ToList();
        var text = new StringBuilder();
        text.Append("| metric | ").AppendJoin(" | ", contenders.Concat(ratios.Select(r => r.Label))).AppendLine(" |");
        text.Append("|---|").AppendJoin(string.Empty, contenders.Select(_ => "---:|")).AppendJoin(string.Empty, ratios.Select(_ => "---:|")).AppendLine();
        foreach (var metric in Metrics.All)
        {
            var cells = contenders.Select(c => results.Summarize(c, metric)).ToList();
            if (cells.All(c => c is null))
            {
                continue;
            }

            text.Append("| ").Append(metric).Append(" | ");
            text.AppendJoin(" | ", cells.Select(Cell));
            foreach (var (_, mineName, other) in ratios)
            {
                var mine = results.Summarize(mineName, metric);
                var theirs = results.Summarize(other, metric);
                text.Append(" | ").Append(mine is null || theirs is null || theirs.Median == 0 ? "–" : Format($"{mine.Median / theirs.Median:0.00}×"));
            }

            text.AppendLine(" |");
        }

        return text.ToString();
    }

    public static string Markdown(RunResults results, BenchSettings settings, string chartFile)
    {
        var text = new StringBuilder();
        text.AppendLine("# Workers benchmarks: raw client, MassTransit, Wolverine and Workers on the same broker");
        text.AppendLine();
        text.AppendLine(Format($"Run {results.Started:yyyy-MM-dd HH:mm} UTC on {Environment.MachineName}: {Environment.ProcessorCount} cores, .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}."));
        text.AppendLine();
        text.AppendLine("```");
        text.AppendLine($"dotnet run -c Release --project tests/Workers.Benchmarks -- {settings.CommandLine}".TrimEnd());
        text.AppendLine("```");
        text.AppendLine();
        text.AppendLine(Format($"{settings.Messages} messages per throughput workload, {settings.Rounds} interleaved rounds (contender order rotates every round), publish window {settings.PublishWindow} confirms in flight, latency at 50 % of each contender's sustainable maximum of the same round (the lower of its end-to-end and drain rates) for {settings.LatencySeconds} s (first 10 % discarded)."));
        text.AppendLine();
        text.AppendLine("## Calibration (this machine, now)");
        text.AppendLine();
        text.AppendLine(Format($"- RabbitMQ ceiling (raw client, persistent + confirms + manual acks, publish and consume at once): **{Value(results.BrokerCeiling)} msg/s**"));
        text.AppendLine(Format($"- PostgreSQL commit rate (pgbench-style: {results.CommitCount} single-row INSERT + COMMIT round trips on one Npgsql connection): **{Value(results.CommitRate)} commits/s**"));
        foreach (var (connections, rate) in results.CommitCeiling)
        {
            text.AppendLine(Format($"- PostgreSQL commit ceiling ({results.CommitCount} single-row INSERT + COMMIT round trips over {connections} Npgsql connections at once, the physical limit of one transaction per message at that concurrency): **{Value(rate)} commits/s**"));
        }
        text.AppendLine();
        text.AppendLine("## Results (median, with min–max over the rounds and ± half the spread (max−min)/median)");
        text.AppendLine();
        text.AppendLine("Throughput ratios above 1 favour Workers; for latency and CPU per message a ratio below 1 favours Workers.");
        text.AppendLine();
        text.Append(Table(results));
        text.AppendLine();
        text.AppendLine(Format($"![chart]({chartFile})"));
        text.AppendLine();
        text.AppendLine("## Targets (reported, not asserted)");
        text.AppendLine();
        var workersVariants = results.ContenderOrder.Where(c => c.StartsWith(Workers, StringComparison.Ordinal)).ToList();
        foreach (var (mineName, metric, other, target) in
            from name in workersVariants
            from goal in new[] { (Metrics.Drain, "raw", 0.85), (Metrics.Drain, "masstransit-default", 1.5), (Metrics.Drain, "wolverine", 1.0), (Metrics.EndToEnd, "raw", 0.85), (Metrics.EndToEnd, "masstransit-default", 1.5), (Metrics.EndToEnd, "wolverine", 1.0), (Metrics.Drain, WolverineInbox, 1.5) }
            where Compared(name, goal.Item2)
            select (name, goal.Item1, goal.Item2, goal.Item3))
        {
            var mine = results.Summarize(mineName, metric);
            var theirs = results.Summarize(other, metric);
            if (mine is null || theirs is null)
            {
                continue;
            }

            var ratio = mine.Median / theirs.Median;
            text.AppendLine(Format($"- {metric}: {mineName}/{other} = {ratio:0.00}× (target ≥ {target:0.00}×) — {(ratio >= target ? "met" : "NOT met")}"));
        }

        var relay = results.Summarize(Workers, Metrics.OutboxDrain);
        var rawPublish = results.Summarize("raw", Metrics.Publish);
        if (relay is not null && rawPublish is not null)
        {
            var ratio = relay.Median / rawPublish.Median;
            text.AppendLine(Format($"- outbox relay drain / raw publish ceiling = {relay.Median:0} / {rawPublish.Median:0} = {ratio:0.00}× (target ≥ 0.70×) — {(ratio >= 0.7 ? "met" : "NOT met")}"));
        }

        var p50 = results.Summarize(Workers, Metrics.OutboxP50);
        var rawP50 = results.Summarize("raw", Metrics.OutboxP50);
        if (p50 is not null && rawP50 is not null)
        {
            var gap = p50.Median - rawP50.Median;
            text.AppendLine(Format($"- outbox commit→consume p50 {p50.Median:0.00} ms vs raw publish→consume p50 {rawP50.Median:0.00} ms at the same rate: +{gap:0.00} ms (target ≤ +2 ms) — {(gap <= 2 ? "met" : "NOT met")}"));
        }

        if (results.Summarize(Workers, Metrics.OutboxP99) is { } p99)
        {
            text.AppendLine(Format($"- outbox commit→consume p99 {p99.Median:0.00} ms (target ≤ 20 ms) — {(p99.Median <= 20 ? "met" : "NOT met")}"));
        }

        text.AppendLine();
        text.AppendLine("## Contenders and their settings");
        text.AppendLine();
        foreach (var (name, description) in results.Settings)
        {
            var prefetch = results.BrokerPrefetch.TryGetValue(name, out var p) ? $" Broker-reported consumer prefetch: {p}." : string.Empty;
            text.AppendLine($"- **{name}**: {description}.{prefetch}");
        }

        text.AppendLine($"- **{BenchRunner.Baseline}**: outbox floor without any framework: per message one transaction with a business row and an outbox row (Npgsql batch), 16 at once, no broker; compare with the `outbox enqueue` row.");
        text.AppendLine($"- **{BenchRunner.BaselineNotify}**: the same, with the outbox table's `AFTER INSERT … FOR EACH STATEMENT` trigger calling `pg_notify` as in the Workers schema (NOTIFY serializes commits database-wide).");
        text.AppendLine();
        if (results.Notes.Count > 0)
        {
            text.AppendLine("## Not measured yet");
            text.AppendLine();
            foreach (var (name, note) in results.Notes)
            {
                text.AppendLine($"- **{name}**: {note}");
            }

            text.AppendLine();
        }

        var problems = results.Problems.ToList();
        if (problems.Count > 0)
        {
            text.AppendLine("## Problems during the run");
            text.AppendLine();
            foreach (var problem in problems)
            {
                text.AppendLine($"- {problem}");
            }

            text.AppendLine();
        }

        text.AppendLine("## Raw samples");
        text.AppendLine();
        text.AppendLine("| contender | metric | round | value |");
        text.AppendLine("|---|---|---:|---:|");
        foreach (var sample in results.Samples.OrderBy(s => s.Contender, StringComparer.Ordinal).ThenBy(s => s.Metric, StringComparer.Ordinal).ThenBy(s => s.Round))
        {
            text.AppendLine(Format($"| {sample.Contender} | {sample.Metric} | {sample.Round} | {sample.Value:0.###} |"));
        }

        return text.ToString();
    }

    private static string Cell(Summary? summary) => summary is null
        ? "–"
        : summary.Median >= 100
            ? Format($"{summary.Median:0} ({summary.Min:0}–{summary.Max:0}, ±{summary.SpreadPercent / 2:0}%)")
            : Format($"{summary.Median:0.00} ({summary.Min:0.00}–{summary.Max:0.00}, ±{summary.SpreadPercent / 2:0}%)");

    private static string Value(double? value) => value is null ? "not measured" : Format($"{value:0}");

    private static string Format(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
