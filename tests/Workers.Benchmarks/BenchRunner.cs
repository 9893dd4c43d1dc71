using System.Diagnostics;
using System.Globalization;
using Workers.Benchmarks.Contenders;
using Workers.Benchmarks.Infrastructure;
using Workers.Benchmarks.Reporting;

namespace Workers.Benchmarks;

/// <summary>
/// Runs the comparison: calibration first, then rounds in which every contender runs every workload, the
/// contenders' order rotating from round to round so that none always runs first (or last) on a noisy machine.
/// </summary>
internal sealed class BenchRunner(BenchSettings settings, IReadOnlyList<Contender> contenders, TextWriter log)
{
    public const string Baseline = "npgsql-baseline";
    public const string BaselineNotify = "npgsql-baseline+notify";
    private const int DatabaseWindow = 16;
    private static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(45);

    private static readonly string[] AllWorkloads = ["publish-drain", "e2e", "latency", "outbox", "failure"];

    public async Task<RunResults> RunAsync(CancellationToken cancellationToken)
    {
        var results = new RunResults();
        results.ContenderOrder.AddRange(contenders.Select(c => c.Name));
        foreach (var contender in contenders)
        {
            results.Settings[contender.Name] = contender.Settings;
            if (contender.NotMeasuredNote is { } note)
            {
                results.Notes[contender.Name] = note;
            }
        }

        await CalibrateAsync(results, cancellationToken).ConfigureAwait(false);

        var vhosts = new Dictionary<string, BenchVhost>(StringComparer.Ordinal);
        try
        {
            foreach (var contender in contenders)
            {
                vhosts[contender.Name] = await BenchVhost.CreateAsync(contender.Name, cancellationToken).ConfigureAwait(false);
            }

            await WarmUpAsync(contenders, vhosts, cancellationToken).ConfigureAwait(false);
            for (var round = 1; round <= settings.Rounds; round++)
            {
                for (var k = 0; k < contenders.Count; k++)
                {
                    var contender = contenders[(k + round - 1) % contenders.Count];
                    await RunContenderAsync(contender, vhosts[contender.Name], round, results, cancellationToken).ConfigureAwait(false);
                }

                if (Enabled("outbox"))
                {
                    foreach (var (baseline, notify) in new[] { (Baseline, false), (BaselineNotify, true) })
                    {
                        await MeasureAsync(results, baseline, round, "outbox", async () =>
                        {
                            var rate = await Calibration.OutboxBaselineAsync(Outbox.Backlog, DatabaseWindow, notify, cancellationToken).ConfigureAwait(false);
                            results.Add(baseline, Metrics.OutboxEnqueue, round, rate);
                            return $"enqueue {rate:0} tx/s";
                        }).ConfigureAwait(false);
                    }
                }
            }
        }
        finally
        {
            foreach (var contender in contenders)
            {
                await contender.CleanupAsync().ConfigureAwait(false);
            }

            foreach (var vhost in vhosts.Values)
            {
                await vhost.DisposeAsync().ConfigureAwait(false);
            }
        }

        return results;
    }

    private int OutboxCount => Math.Max(500, settings.Messages / 5);

    private OutboxWorkload Outbox => new(OutboxCount, DatabaseWindow, settings.OutboxBacklog ?? OutboxCount, settings.OutboxRate, settings.LatencySeconds);

    private bool Enabled(string workload) => settings.Workloads.Count == 0 || settings.Workloads.Contains(workload, StringComparer.OrdinalIgnoreCase)
        || (workload == "publish-drain" && settings.Workloads.Any(w => w is "publish" or "drain"));

    private async Task CalibrateAsync(RunResults results, CancellationToken cancellationToken)
    {
        var count = Math.Min(settings.Messages, 20_000);
        log.WriteLine($"[calibration] broker ceiling: raw client, {count} messages published and consumed at once …");
        try
        {
            await using var vhost = await BenchVhost.CreateAsync("calibration", cancellationToken).ConfigureAwait(false);
            results.BrokerCeiling = await EndToEndAsync(new RawContender(), vhost, "calibration", count, cancellationToken).ConfigureAwait(false);
            log.WriteLine($"[calibration] broker ceiling {results.BrokerCeiling:0} msg/s");
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            results.Problem($"calibration (broker): {exception.GetType().Name}: {exception.Message}");
        }

        results.CommitCount = settings.Quick ? 2_000 : 5_000;
        try
        {
            results.CommitRate = await Calibration.CommitRateAsync(results.CommitCount, 1, cancellationToken).ConfigureAwait(false);
            log.WriteLine($"[calibration] PostgreSQL commit rate {results.CommitRate:0} commits/s ({results.CommitCount} INSERT+COMMIT on one connection)");
            foreach (var connections in RunResults.CommitCeilingConnections)
            {
                var rate = await Calibration.CommitRateAsync(results.CommitCount, connections, cancellationToken).ConfigureAwait(false);
                results.CommitCeiling[connections] = rate;
                log.WriteLine($"[calibration] PostgreSQL commit ceiling {rate:0} commits/s ({results.CommitCount} INSERT+COMMIT over {connections} connections at once)");
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            results.Problem($"calibration (PostgreSQL): {exception.GetType().Name}: {exception.Message}");
        }
    }

    private async Task RunContenderAsync(Contender contender, BenchVhost vhost, int round, RunResults results, CancellationToken cancellationToken)
    {
        var name = contender.Name;
        var n = settings.Messages;
        double? e2e = null;
        double? drained = null;

        if (Enabled("publish-drain"))
        {
            await MeasureAsync(results, name, round, "publish+drain", async () =>
            {
                var queue = $"drain-{round}";
                double publish;
                double publishCpu;
                await using (var producer = await contender.StartProducerAsync(vhost, queue, cancellationToken).ConfigureAwait(false))
                {
                    var started = Stopwatch.GetTimestamp();
                    var cpu = Environment.CpuUsage.TotalTime;
                    await Load.RunAsync(n, settings.PublishWindow, (id, ct) => producer.PublishAsync(BenchMessage.Create(id), ct), cancellationToken).ConfigureAwait(false);
                    publish = n / Stopwatch.GetElapsedTime(started).TotalSeconds;
                    publishCpu = (Environment.CpuUsage.TotalTime - cpu).TotalMicroseconds / n; // only the producer runs in this process now
                }

                // Every publish completed at its confirm, so every message is in the queue now; fewer means the
                // contender's publish returned before the broker had the message (its rate is then not comparable).
                var queued = await vhost.CountMessagesAsync(queue, cancellationToken).ConfigureAwait(false);
                if (queued < n)
                {
                    results.Problem($"round {round}, {name}, publish: only {queued} of {n} messages were in the queue when the last publish returned: its publishes do not wait for the broker");
                }

                results.Add(name, Metrics.Publish, round, publish);
                results.Add(name, Metrics.PublishCpu, round, publishCpu);
                var probe = new ConsumeProbe(n);
                await using (await contender.StartConsumerAsync(vhost, queue, probe, failures: false, cancellationToken).ConfigureAwait(false))
                {
                    await probe.WaitAsync(StallTimeout, cancellationToken).ConfigureAwait(false);
                }

                var drain = (n - 1) / probe.FirstToLast.TotalSeconds;
                drained = drain;
                results.Add(name, Metrics.Drain, round, drain);
                results.Add(name, Metrics.DrainCpu, round, probe.CpuMicrosecondsPerMessage);
                await vhost.DeleteQueueAsync(queue, cancellationToken).ConfigureAwait(false);
                return $"publish {publish:0} msg/s ({publishCpu:0} µs CPU/msg), drain {drain:0} msg/s ({probe.CpuMicrosecondsPerMessage:0} µs CPU/msg)";
            }).ConfigureAwait(false);
        }

        if (Enabled("e2e") || Enabled("latency"))
        {
            await MeasureAsync(results, name, round, "end-to-end", async () =>
            {
                e2e = await EndToEndAsync(contender, vhost, $"e2e-{round}", n, cancellationToken).ConfigureAwait(false);
                results.Add(name, Metrics.EndToEnd, round, e2e.Value);
                await vhost.DeleteQueueAsync($"e2e-{round}", cancellationToken).ConfigureAwait(false);
                return $"{e2e:0} msg/s";
            }).ConfigureAwait(false);
        }

        if (Enabled("latency") && e2e is { } max)
        {
            await MeasureAsync(results, name, round, "latency", async () =>
            {
                // The sustainable maximum cannot exceed what the consumer drains on its own: take the lower one.
                var rate = Math.Max(10, Math.Min(max, drained ?? max) / 2);
                var queue = $"latency-{round}";
                var count = (int)Math.Max(100, rate * settings.LatencySeconds);
                var probe = new ConsumeProbe(count, recordLatency: true, latencySkip: count / 10);
                await using (await contender.StartConsumerAsync(vhost, queue, probe, failures: false, cancellationToken).ConfigureAwait(false))
                await using (var producer = await contender.StartProducerAsync(vhost, queue, cancellationToken).ConfigureAwait(false))
                {
                    await PacedAsync(producer, count, rate, cancellationToken).ConfigureAwait(false);
                    await probe.WaitAsync(StallTimeout, cancellationToken).ConfigureAwait(false);
                    await RecordBrokerPrefetchAsync(results, name, vhost, queue, cancellationToken).ConfigureAwait(false);
                }

                var histogram = probe.Latency!;
                var p50 = histogram.GetValueAtPercentile(50) / 1000.0;
                var p99 = histogram.GetValueAtPercentile(99) / 1000.0;
                var p999 = histogram.GetValueAtPercentile(99.9) / 1000.0;
                results.Add(name, Metrics.LatencyRate, round, rate);
                results.Add(name, Metrics.LatencyP50, round, p50);
                results.Add(name, Metrics.LatencyP99, round, p99);
                results.Add(name, Metrics.LatencyP999, round, p999);
                await vhost.DeleteQueueAsync(queue, cancellationToken).ConfigureAwait(false);
                return string.Create(CultureInfo.InvariantCulture, $"at {rate:0} msg/s: p50 {p50:0.00} ms, p99 {p99:0.00} ms, p99.9 {p999:0.00} ms");
            }).ConfigureAwait(false);
        }

        if (Enabled("outbox"))
        {
            await MeasureAsync(results, name, round, "outbox", async () =>
            {
                var queue = $"outbox-{round}";
                var workload = Outbox;
                if (contender is RawContender)
                {
                    // No outbox: the reference for commit→consume is publish→consume at the same fixed rate.
                    var histogram = await LatencyAtAsync(contender, vhost, queue, workload.LatencyRate, cancellationToken).ConfigureAwait(false);
                    var (p50, p99) = (histogram.GetValueAtPercentile(50) / 1000.0, histogram.GetValueAtPercentile(99) / 1000.0);
                    results.Add(name, Metrics.OutboxP50, round, p50);
                    results.Add(name, Metrics.OutboxP99, round, p99);
                    await vhost.DeleteQueueAsync(queue, cancellationToken).ConfigureAwait(false);
                    return Text($"no outbox; publish→consume at {workload.LatencyRate:0} msg/s: p50 {p50:0.00} ms, p99 {p99:0.00} ms");
                }

                var outbox = await contender.RunOutboxAsync(vhost, queue, workload, cancellationToken).ConfigureAwait(false);
                if (outbox is null)
                {
                    return "not measured";
                }

                results.Add(name, Metrics.Outbox, round, outbox.EndToEnd);
                var outcome = Text($"end-to-end {outbox.EndToEnd:0} msg/s");
                if (outbox.Enqueue is { } enqueue)
                {
                    results.Add(name, Metrics.OutboxEnqueue, round, enqueue);
                    outcome += Text($", enqueue {enqueue:0} tx/s");
                }

                if (outbox.RelayDrain is { } drain)
                {
                    results.Add(name, Metrics.OutboxDrain, round, drain);
                    outcome += Text($", relay drain of {workload.Backlog} {drain:0} msg/s");
                }

                if (outbox.Latency is { } latency)
                {
                    var (p50, p99) = (latency.GetValueAtPercentile(50) / 1000.0, latency.GetValueAtPercentile(99) / 1000.0);
                    results.Add(name, Metrics.OutboxP50, round, p50);
                    results.Add(name, Metrics.OutboxP99, round, p99);
                    outcome += Text($", commit→consume at {workload.LatencyRate:0} tx/s: p50 {p50:0.00} ms, p99 {p99:0.00} ms");
                }

                await vhost.DeleteQueueAsync(queue, cancellationToken).ConfigureAwait(false);
                return outcome;
            }).ConfigureAwait(false);
        }

        if (Enabled("failure") && contender.SupportsFailures)
        {
            await MeasureAsync(results, name, round, "failure", async () =>
            {
                var queue = $"failure-{round}";
                await using (var producer = await contender.StartProducerAsync(vhost, queue, cancellationToken).ConfigureAwait(false))
                {
                    await Load.RunAsync(n, settings.PublishWindow, (id, ct) => producer.PublishAsync(BenchMessage.Create(id, failures: true), ct), cancellationToken).ConfigureAwait(false);
                }

                var probe = new ConsumeProbe(n);
                await using (await contender.StartConsumerAsync(vhost, queue, probe, failures: true, cancellationToken).ConfigureAwait(false))
                {
                    await probe.WaitAsync(StallTimeout, cancellationToken).ConfigureAwait(false);
                }

                var rate = (n - 1) / probe.FirstToLast.TotalSeconds;
                results.Add(name, Metrics.Failure, round, rate);
                await vhost.DeleteQueueAsync(queue, cancellationToken).ConfigureAwait(false);
                return $"{rate:0} msg/s ({probe.Failures} first attempts failed)";
            }).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Once per contender, while its consumer still runs: the prefetch the broker really applies (management API,
    /// whose consumer list lags by its statistics interval, hence the bounded polling). Not timed.
    /// </summary>
    private static async Task RecordBrokerPrefetchAsync(RunResults results, string name, BenchVhost vhost, string queue, CancellationToken cancellationToken)
    {
        if (results.BrokerPrefetch.ContainsKey(name))
        {
            return;
        }

        IReadOnlyList<int> prefetch = [];
        for (var attempt = 0; attempt < 8 && prefetch.Count == 0; attempt++)
        {
            prefetch = await vhost.GetConsumerPrefetchAsync(queue, cancellationToken).ConfigureAwait(false);
            if (prefetch.Count == 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
        }

        results.BrokerPrefetch[name] = prefetch.Count == 0 ? "not reported" : string.Join(", ", prefetch);
    }

    /// <summary>Untimed: every contender moves a few messages once, so that no measured round pays for JIT and first connections.</summary>
    private async Task WarmUpAsync(IEnumerable<Contender> all, IReadOnlyDictionary<string, BenchVhost> vhosts, CancellationToken cancellationToken)
    {
        var count = Math.Min(settings.Messages, 2_000);
        foreach (var contender in all)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await EndToEndAsync(contender, vhosts[contender.Name], "warm-up", count, cancellationToken).ConfigureAwait(false);
                await vhosts[contender.Name].DeleteQueueAsync("warm-up", cancellationToken).ConfigureAwait(false);
                log.WriteLine($"[warm-up] {contender.Name,-20} {count} messages ({Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s)");
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                log.WriteLine($"[warm-up] {contender.Name,-20} FAILED: {exception.GetType().Name}: {exception.Message}");
            }
        }
    }

    /// <summary>Consumer running, then N published with the confirm window: time from the first publish to the last consume.</summary>
    private async Task<double> EndToEndAsync(Contender contender, BenchVhost vhost, string queue, int count, CancellationToken cancellationToken)
    {
        var probe = new ConsumeProbe(count);
        long started;
        await using (await contender.StartConsumerAsync(vhost, queue, probe, failures: false, cancellationToken).ConfigureAwait(false))
        await using (var producer = await contender.StartProducerAsync(vhost, queue, cancellationToken).ConfigureAwait(false))
        {
            started = Stopwatch.GetTimestamp();
            await Load.RunAsync(count, settings.PublishWindow, (id, ct) => producer.PublishAsync(BenchMessage.Create(id), ct), cancellationToken).ConfigureAwait(false);
            await probe.WaitAsync(StallTimeout, cancellationToken).ConfigureAwait(false);
        }

        return count / Stopwatch.GetElapsedTime(started, probe.LastTimestamp).TotalSeconds;
    }

    /// <summary>Publish→consume latency (µs) at a fixed rate for <c>--latency-seconds</c>, first 10 % discarded.</summary>
    private async Task<HdrHistogram.LongHistogram> LatencyAtAsync(Contender contender, BenchVhost vhost, string queue, double rate, CancellationToken cancellationToken)
    {
        var count = (int)Math.Max(100, rate * settings.LatencySeconds);
        var probe = new ConsumeProbe(count, recordLatency: true, latencySkip: count / 10);
        await using (await contender.StartConsumerAsync(vhost, queue, probe, failures: false, cancellationToken).ConfigureAwait(false))
        await using (var producer = await contender.StartProducerAsync(vhost, queue, cancellationToken).ConfigureAwait(false))
        {
            await PacedAsync(producer, count, rate, cancellationToken).ConfigureAwait(false);
            await probe.WaitAsync(StallTimeout, cancellationToken).ConfigureAwait(false);
        }

        return probe.Latency!;
    }

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Publishes at a fixed rate; each message carries its intended send time, so a stalled publisher shows up as
    /// latency (no coordinated omission).
    /// </summary>
    private static Task PacedAsync(IBenchProducer producer, int count, double rate, CancellationToken cancellationToken) =>
        Load.PacedAsync(count, rate, (id, intended, ct) => producer.PublishAsync(BenchMessage.Create(id, sentTimestamp: intended), ct), cancellationToken);

    private async Task MeasureAsync(RunResults results, string contender, int round, string workload, Func<Task<string>> measure)
    {
        var started = Stopwatch.GetTimestamp();
        log.Write($"[round {round}/{settings.Rounds}] {contender,-20} {workload,-14} ");
        try
        {
            var outcome = await measure().ConfigureAwait(false);
            log.WriteLine($"{outcome}  ({Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s)");
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            log.WriteLine($"FAILED: {exception.GetType().Name}: {exception.Message}");
            results.Problem($"round {round}, {contender}, {workload}: {exception.GetType().Name}: {exception.Message}");
        }
    }
}
