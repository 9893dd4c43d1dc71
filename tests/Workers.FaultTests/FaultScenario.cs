using System.Diagnostics;
using System.Globalization;
using System.Text;
using Workers.Testing;
using Xunit;

namespace Workers.FaultTests;

/// <summary>
/// One scenario's world: its own vhost on a broker (the private node by default, see <see cref="IFaultBroker"/>), its
/// own database (on the shared server by default, see <see cref="IFaultDatabase"/>), the observer (audit + dead-letter
/// queues, declared first), the producer, and the worker processes. <see cref="SettleAsync"/> does the accounting by message id:
/// LOST = confirmed by the broker to the producer, yet neither applied nor dead-lettered.
/// </summary>
internal sealed class FaultScenario : IAsyncDisposable
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    /// <summary>Longest settle: the backlog of a loaded machine drains within it.</summary>
    public static readonly TimeSpan SettleBound = TimeSpan.FromMinutes(5);

    /// <summary>Settle bound of the database failover scenarios (6, 13): a backlog built on a busy machine drains at the worker's pace.</summary>
    public static readonly TimeSpan DatabaseFailoverSettleBound = TimeSpan.FromMinutes(3);

    /// <summary>Settling gives up when no confirmed id was accounted for during this long (a stuck consumer).</summary>
    public static readonly TimeSpan StallBound = TimeSpan.FromSeconds(45);
    private readonly IFaultBroker broker;
    private readonly List<WorkerProcess> workers = [];
    private readonly StringBuilder log = new();
    private CancellationTokenSource? stopLoad;
    private Task? loadTask;

    private FaultScenario(IFaultBroker broker, string vhost, IFaultDatabase database)
    {
        this.broker = broker;
        Vhost = vhost;
        Database = database;
        Observer = new QueueObserver(Clock);
        Effects = new EffectLedger(database.ConnectionString);
    }

    /// <summary>The scenario's own database (effects, inbox, outbox).</summary>
    public IFaultDatabase Database { get; }

    /// <summary>The effects table, read on demand.</summary>
    public EffectLedger Effects { get; }

    /// <summary>The workers' inbox counters.</summary>
    public MetricsScraper Metrics { get; } = new();

    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    public string Vhost { get; }

    /// <summary>The vhost's URI for the test's own clients (producer, observer, CLI).</summary>
    public Uri Broker => broker.ClientUri(Vhost);

    /// <summary>The vhost's URI for the workers.</summary>
    public Uri WorkerBroker => broker.WorkerUri(Vhost);

    public QueueObserver Observer { get; }

    public OrderLoad Load { get; private set; } = null!;

    public static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>A scenario on the suite's private node, with its own database on the shared server.</summary>
    public static Task<FaultScenario> StartAsync(FaultNode node, string name, bool drainErrorQueue = true) =>
        StartAsync((IFaultBroker)node, name, drainErrorQueue);

    /// <summary>
    /// A scenario on <paramref name="broker"/>, with the database <paramref name="database"/> creates (a database of its
    /// own on the shared server when null).
    /// </summary>
    public static async Task<FaultScenario> StartAsync(IFaultBroker broker, string name, bool drainErrorQueue = true, Func<CancellationToken, Task<IFaultDatabase>>? database = null)
    {
        ArgumentNullException.ThrowIfNull(broker);
        await broker.EnsureRunningAsync(Cancel);

        var created = await (database ?? SharedFaultDatabase.CreateAsync)(Cancel);
        var scenario = new FaultScenario(broker, $"fault-{name}-{Guid.NewGuid():N}"[..40], created);
        await broker.CreateVhostAsync(scenario.Vhost, Cancel);
        scenario.Observer.DrainErrorQueue = drainErrorQueue;
        scenario.Observer.AuditQueueArguments = broker.AuditQueueArguments;
        scenario.Observer.DeadLetterQueueArguments = broker.DeadLetterQueueArguments;
        await scenario.Observer.StartAsync(scenario.Broker, Cancel);
        scenario.Load = new OrderLoad(scenario.Broker, scenario.Clock);
        return scenario;
    }

    /// <summary>Starts a sample worker on this vhost (or through <paramref name="via"/>, e.g. a proxy) with the scenario's settings.</summary>
    public WorkerProcess StartWorker(Uri? via = null, IReadOnlyDictionary<string, string>? extra = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["WORKERS_RABBITMQ_URI"] = (via ?? WorkerBroker).ToString(),
            ["WORKERS_POSTGRES"] = Database.ConnectionString,
            ["Urls"] = "http://127.0.0.1:0",
            ["Workers__ShutdownTimeout"] = "00:00:20",
            ["Workers__Defaults__Redelivery__Delay"] = "00:00:00.200",
            ["Workers__Defaults__Redelivery__MaxDelay"] = "00:00:02",
            ["Workers__Defaults__Redelivery__MaxRedeliveryAttempts"] = "20",
            ["Sample__Payment__LatencyMs"] = "5",

            // The sample's watchdog (on in its appsettings) a little quicker than its defaults (10 s, 30 s): a consumer
            // that does not come back after a fault is restarted within the scenarios' bounds.
            ["Workers__ConsumerWatchdog__Interval"] = "00:00:05",
            ["Workers__ConsumerWatchdog__StallTimeout"] = "00:00:20",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",

            // Endpoint starts and stops, connection recoveries and breaker transitions: the story of a failure.
            ["Logging__LogLevel__MassTransit"] = "Information",
            ["Logging__LogLevel__Workers.Resilience.CircuitBreaker"] = "Information",
        };
        foreach (var (key, value) in broker.WorkerSettings.Concat(extra ?? new Dictionary<string, string>()))
        {
            environment[key] = value;
        }

        var worker = WorkerProcess.Start(WorkerProcess.ProjectAssembly("Workers.Sample"), environment);
        workers.Add(worker);
        return worker;
    }

    /// <summary>Waits (bounded) until the worker serves HTTP and <c>submit-order</c> has at least one consumer.</summary>
    public async Task WaitConsumingAsync(WorkerProcess worker, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        var bound = timeout ?? Bound;
        Metrics.Add(worker, await worker.WaitForListeningAsync(bound));
        await WaitUntilAsync(async () => await Observer.ConsumerCountAsync("submit-order", Cancel) >= 1 && await Observer.ConsumerCountAsync("order-accepted", Cancel) >= 1, bound, "the worker consumes submit-order and order-accepted", worker);
    }

    /// <summary>
    /// The common preamble: starts a worker (see <see cref="StartWorker"/>), waits until it consumes, starts the steady
    /// load (<paramref name="rate"/> per second, <see cref="FaultSettings.Rate"/> by default) and waits until
    /// <paramref name="progress"/> orders are accepted. Returns the worker.
    /// </summary>
    public async Task<WorkerProcess> StartWorkerUnderLoadAsync(Uri? via = null, IReadOnlyDictionary<string, string>? extra = null, int progress = 200, int? rate = null)
    {
        var worker = StartWorker(via, extra);
        await WaitConsumingAsync(worker);
        StartLoad(rate);
        await WaitForProgressAsync(progress, Bound, worker);
        return worker;
    }

    /// <summary>Waits (bounded) until <c>submit-order</c> has exactly <paramref name="count"/> consumers.</summary>
    public Task WaitUntilConsumersAsync(int count, TimeSpan timeout) =>
        WaitUntilAsync(async () => await Observer.ConsumerCountAsync("submit-order", Cancel) == count, timeout, $"submit-order has {count} consumer(s)");

    /// <summary>Starts the steady load in the background.</summary>
    public void StartLoad(int? rate = null, TimeSpan? max = null)
    {
        stopLoad = new CancellationTokenSource();
        loadTask = Load.RunAsync(rate ?? FaultSettings.Rate, max ?? TimeSpan.FromMinutes(30), stopLoad.Token, Cancel);
    }

    /// <summary>Waits until the load ends by itself (its max duration), bounded.</summary>
    public async Task WaitLoadAsync()
    {
        if (loadTask is not null)
        {
            await loadTask.WaitAsync(TimeSpan.FromMinutes(30), Cancel);
        }
    }

    /// <summary>Stops the load and waits until every publish was confirmed or given up.</summary>
    public async Task StopLoadAsync()
    {
        if (stopLoad is null || loadTask is null)
        {
            return;
        }

        await stopLoad.CancelAsync();
        await loadTask.WaitAsync(TimeSpan.FromMinutes(3), Cancel);
    }

    /// <summary>Waits until at least <paramref name="count"/> more orders are accepted than now (proof that work flows).</summary>
    public async Task WaitForProgressAsync(int count, TimeSpan timeout, WorkerProcess? worker = null)
    {
        var target = Observer.Accepted.Count + count;
        try
        {
            await WaitUntilAsync(() => Task.FromResult(Observer.Accepted.Count >= target), timeout, $"{count} more orders accepted", worker);
        }
        catch (TimeoutException stalled)
        {
            throw await StallAsync(stalled);
        }
    }

    /// <summary>Time from <paramref name="healTick"/> to the first acceptance of an order confirmed after it (null when none).</summary>
    public TimeSpan? RecoverySince(long healTick)
    {
        var arrivals = Load.Confirmed.Where(c => c.Value >= healTick).Select(c => Observer.FirstArrival.TryGetValue(c.Key, out var at) ? at : long.MaxValue).ToList();
        var first = arrivals.Count == 0 ? long.MaxValue : arrivals.Min();
        return first == long.MaxValue ? null : TimeSpan.FromSeconds((double)(first - healTick) / Stopwatch.Frequency);
    }

    /// <summary>
    /// Waits (bounded) until an order confirmed after <paramref name="tick"/> is accepted; returns the time from the tick
    /// to that acceptance (see <see cref="RecoverySince"/>).
    /// </summary>
    public async Task<TimeSpan> WaitForRecoveryAsync(long tick, WorkerProcess? worker = null)
    {
        TimeSpan? recovery = null;
        await WaitUntilAsync(() => Task.FromResult((recovery = RecoverySince(tick)) is not null), Bound, "an order confirmed after the fault accepted", worker);
        return recovery!.Value;
    }

    /// <summary>Orders accepted per second (first arrivals) over <paramref name="window"/> ending at tick <paramref name="end"/>.</summary>
    public double AcceptedRate(long end, TimeSpan window)
    {
        var start = end - (long)(window.TotalSeconds * Stopwatch.Frequency);
        return Observer.FirstArrival.Values.Count(t => t > start && t <= end) / window.TotalSeconds;
    }

    /// <summary>How many warning and error lines the workers logged, e.g. <c>worker log warn 12 fail 3</c>.</summary>
    public string WorkerLogCounts()
    {
        var lines = workers.SelectMany(w => w.Output.Split('\n')).ToList();
        return string.Create(CultureInfo.InvariantCulture, $"worker log warn {lines.Count(l => l.StartsWith("warn:", StringComparison.Ordinal))} fail {lines.Count(l => l.StartsWith("fail:", StringComparison.Ordinal))}");
    }

    public void Note(string text)
    {
        lock (log)
        {
            log.AppendLine(CultureInfo.InvariantCulture, $"[{Clock.Elapsed.TotalSeconds,7:F2}s] {text}");
        }

        TestContext.Current.TestOutputHelper?.WriteLine(text);
    }

    /// <summary>
    /// Stops the load, waits (bounded) until every confirmed id is applied or dead-lettered, and returns the figures.
    /// Ids neither applied nor dead-lettered when progress stalls or the bound elapses are LOST.
    /// </summary>
    public async Task<FaultRow> SettleAsync(string scenario, TimeSpan? recovery, string notes, TimeSpan? timeout = null)
    {
        await StopLoadAsync();
        var confirmed = Load.Confirmed.Keys.ToList();
        bool Accounted(Guid id) => (Effects.Accepted.ContainsKey(id) && Effects.Notified.ContainsKey(id)) || Observer.DeadLettered.ContainsKey(id);
        var deadline = Stopwatch.StartNew();
        var bound = timeout ?? SettleBound;
        var sinceProgress = Stopwatch.StartNew();
        await Effects.RefreshAsync(Cancel);
        var open = confirmed.Count(id => !Accounted(id));

        // A slow machine drains a backlog slowly, a stuck consumer not at all: wait while ids keep being accounted
        // for, and give up once none was for StallBound (or after the overall bound).
        while (open > 0 && deadline.Elapsed < bound && sinceProgress.Elapsed < StallBound)
        {
            await Task.Delay(500, Cancel);
            await Effects.RefreshAsync(Cancel);
            var now = confirmed.Count(id => !Accounted(id));
            if (now < open)
            {
                sinceProgress.Restart();
            }

            open = now;
        }

        // Final read: the figures below come from one consistent snapshot.
        await Metrics.ScrapeAsync(Cancel);
        await Effects.RefreshAsync(Cancel);
        var lost = confirmed.Where(id => !Accounted(id)).ToList();
        var applied = confirmed.Count(id => Effects.Accepted.ContainsKey(id));
        var duplicatesApplied = Effects.Accepted.Values.Sum(n => n - 1) + Effects.Notified.Values.Sum(n => n - 1);
        var deadLettered = confirmed.Count(id => Observer.DeadLettered.ContainsKey(id));
        var row = new FaultRow(scenario, Load.Sent, confirmed.Count, (int)Metrics.Processed, applied, (int)Metrics.Duplicates, duplicatesApplied, deadLettered, lost.Count, recovery, notes);
        if (lost.Count > 0)
        {
            foreach (var queue in new[] { "submit-order", "order-accepted" })
            {
                Note($"{queue}: consumers {await Observer.ConsumerCountAsync(queue, Cancel)}, ready {await Observer.ReadyCountAsync(queue, Cancel)}");
            }

            Note($"LOST ids (first 10): {string.Join(", ", lost.Take(10).Select(id => $"{id} accepted={Effects.Accepted.ContainsKey(id)} notified={Effects.Notified.ContainsKey(id)}"))}");
            NoteLostForensics(lost);
            Note("queues of the vhost (name type messages ready unacked consumers):\n" + await broker.DescribeQueuesAsync(Vhost, Cancel));
        }

        if (deadLettered > 0)
        {
            Note("dead-lettered: " + DeadLetterSummary(confirmed));
        }

        if (duplicatesApplied > 0)
        {
            Note($"DUPLICATE effects: {string.Join(", ", Effects.Accepted.Concat(Effects.Notified).Where(e => e.Value > 1).Take(10).Select(e => e.Key))}");
        }

        return row;
    }

    // Where a lost id was last seen: when the producer had it confirmed (on the scenario's clock, beside the notes'
    // fault times) and every line of the workers' output that names it (a failure, a redelivery, a hold).
    private void NoteLostForensics(List<Guid> lost)
    {
        var lines = workers.SelectMany(w => w.Output.Split('\n').Select(line => (w.Id, Line: line))).ToList();
        foreach (var id in lost.Take(5))
        {
            var text = id.ToString();
            var confirmedAt = (double)Load.Confirmed[id] / Stopwatch.Frequency;
            var seen = lines.Where(l => l.Line.Contains(text, StringComparison.OrdinalIgnoreCase)).ToList();
            Note(string.Create(CultureInfo.InvariantCulture, $"lost {id}: confirmed at {confirmedAt:F2}s, named in {seen.Count} worker line(s)"));
            foreach (var (worker, line) in seen.Take(12))
            {
                Note(string.Create(CultureInfo.InvariantCulture, $"  worker {worker}: {(line.Length > 300 ? line[..300] : line)}"));
            }
        }
    }

    /// <summary>Dead-lettered ids among <paramref name="ids"/>, grouped by queue and reason.</summary>
    public string DeadLetterSummary(IEnumerable<Guid> ids) => string.Join("; ", ids
        .Where(Observer.DeadLettered.ContainsKey)
        .Select(id => Observer.DeadLettered[id])
        .GroupBy(d => $"{d.Queue} {d.Disposition ?? "-"} {d.ExceptionType ?? "-"}: {d.Reason}")
        .Select(g => $"{g.Count()}x {g.Key}"));

    /// <summary>Asserts the scenario's invariants: nothing lost, no effect applied twice.</summary>
    public void AssertSound(FaultRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        // The diagnostics (which also save the workers' output) only when an invariant is broken.
        if (row.Lost > 0)
        {
            Assert.Fail($"{row.Lost} message(s) lost.\n{Diagnostics()}");
        }

        if (row.DuplicatesApplied > 0)
        {
            Assert.Fail($"{row.DuplicatesApplied} effect(s) applied twice.\n{Diagnostics()}");
        }
    }

    /// <summary>
    /// Times a worker logged that it could not hand a failed message to the broker (redelivery copy or dead letter,
    /// event 3005) and returned it to its queue untouched instead.
    /// </summary>
    public int TransportFallbacks() => workers.Sum(w => CountOf(w.Output, "Workers.Resilience.Redelivery[3005]"));

    /// <summary>
    /// Asserts that no healthy order was dead-lettered: a broker outage returns messages to their queue (event 3005),
    /// it never dead-letters them or burns their attempts.
    /// </summary>
    public void AssertNoHealthyOrderDeadLettered(FaultRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        Assert.True(row.DeadLettered == 0, $"{row.DeadLettered} healthy order(s) dead-lettered ({TransportFallbacks()} transport requeues logged): " + DeadLetterSummary(Load.Confirmed.Keys));
    }

    private static int CountOf(string text, string value)
    {
        var count = 0;
        for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    /// <summary>Everything the scenario noted plus the workers' output tails, for a failure message.</summary>
    public string Diagnostics()
    {
        var text = new StringBuilder();
        lock (log)
        {
            text.Append(log);
        }

        foreach (var worker in workers)
        {
            var output = worker.Output;
            var file = SaveOutput(worker.Id, output);
            text.AppendLine(CultureInfo.InvariantCulture, $"--- worker {worker.Id}: last events (full output: {file}) ---");
            foreach (var line in Headlines(output).TakeLast(40))
            {
                text.AppendLine(line);
            }
        }

        return text.ToString();
    }

    // Warnings, errors and the framework's own events, one line each and cut short: what a reader needs first.
    private static IEnumerable<string> Headlines(string output) => output
        .Split('\n')
        .Where(line => line.StartsWith("warn:", StringComparison.Ordinal) || line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal)
            || line.StartsWith("info: MassTransit", StringComparison.Ordinal) || line.StartsWith("info: Workers", StringComparison.Ordinal))
        .Select(line => line.Length > 400 ? line[..400] : line);

    private string SaveOutput(int workerId, string output)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "TestResults", "fault-workers");
        Directory.CreateDirectory(folder);
        var file = Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"{Vhost}-{workerId}.log"));
        File.WriteAllText(file, output);
        return file;
    }

    public async ValueTask DisposeAsync()
    {
        if (stopLoad is not null)
        {
            await stopLoad.CancelAsync();
            try
            {
                if (loadTask is not null)
                {
                    await loadTask.WaitAsync(TimeSpan.FromSeconds(30));
                }
            }
            catch (Exception) when (loadTask is not null)
            {
            }

            stopLoad.Dispose();
        }

        await Metrics.DisposeAsync();
        foreach (var worker in workers)
        {
            await worker.DisposeAsync();
        }

        await Load.DisposeAsync();
        await Observer.DisposeAsync();
        await Database.DisposeAsync();
        await broker.DeleteVhostAsync(Vhost);
    }

    /// <summary>Waits (bounded) until the broker lists exactly one consumer on each of the sample's queues: no stuck consumer.</summary>
    public async Task WaitOneConsumerEachAsync(WorkerProcess worker, string after)
    {
        try
        {
            await WaitUntilAsync(
                async () => await Observer.ConsumerCountAsync("submit-order", Cancel) == 1 && await Observer.ConsumerCountAsync("order-accepted", Cancel) == 1,
                Bound,
                "one consumer on each queue after " + after,
                worker);
        }
        catch (TimeoutException stalled)
        {
            throw await StallAsync(stalled);
        }
    }

    // A stall, with where the work stopped: the queues as the broker counts them (consumers and unacknowledged
    // messages included) and the workers' full output, saved beside the other results.
    private async Task<TimeoutException> StallAsync(TimeoutException stalled)
    {
        await Effects.RefreshAsync(Cancel);
        var accepted = Load.Confirmed.Keys.Count(Effects.Accepted.ContainsKey);
        var notified = Load.Confirmed.Keys.Count(Effects.Notified.ContainsKey);
        var queues = await broker.DescribeQueuesAsync(Vhost, Cancel);
        var files = string.Join(", ", workers.Select(w => SaveOutput(w.Id, w.Output)));
        string notes;
        lock (log)
        {
            notes = log.ToString();
        }

        return new TimeoutException(
            string.Create(CultureInfo.InvariantCulture, $"{stalled.Message}\n{notes}confirmed {Load.Confirmed.Count}, accepted (effect) {accepted}, notified (effect) {notified}, OrderAccepted seen {Observer.Accepted.Count}\nqueues of the vhost (name type messages ready unacked consumers):\n{queues}\nworkers' full output: {files}"),
            stalled);
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, WorkerProcess? worker = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"Not reached within {timeout}: {what}.{(worker is null ? string.Empty : "\nWorker output tail:\n" + Tail(worker.Output))}");
            }

            if (worker is { HasExited: true })
            {
                throw new InvalidOperationException($"The worker exited while waiting for: {what}.\n{Tail(worker.Output)}");
            }

            await Task.Delay(100, Cancel);
        }
    }

    private static string Tail(string text) => text.Length > 3000 ? text[^3000..] : text;
}
