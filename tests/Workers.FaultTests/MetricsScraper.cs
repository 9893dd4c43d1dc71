using System.Globalization;
using Workers.Testing;

namespace Workers.FaultTests;

/// <summary>
/// Reads the workers' Prometheus <c>/metrics</c> (inbox processed / duplicates absorbed); keeps each process's last
/// figures, so a killed worker's count up to its last scrape still counts (a lower bound).
/// </summary>
internal sealed class MetricsScraper : IAsyncDisposable
{
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly Dictionary<int, (Uri Address, WorkerProcess Worker, double Processed, double Duplicates)> workers = [];
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;

    public MetricsScraper() => loop = LoopAsync();

    public double Processed
    {
        get
        {
            lock (workers)
            {
                return workers.Values.Sum(w => w.Processed);
            }
        }
    }

    public double Duplicates
    {
        get
        {
            lock (workers)
            {
                return workers.Values.Sum(w => w.Duplicates);
            }
        }
    }

    public void Add(WorkerProcess worker, Uri address)
    {
        lock (workers)
        {
            workers[worker.Id] = (address, worker, 0, 0);
        }
    }

    /// <summary>Scrapes every live worker now.</summary>
    public async Task ScrapeAsync(CancellationToken cancellationToken)
    {
        List<(int Id, Uri Address, WorkerProcess Worker)> live;
        lock (workers)
        {
            live = workers.Where(w => !w.Value.Worker.HasExited).Select(w => (w.Key, w.Value.Address, w.Value.Worker)).ToList();
        }

        foreach (var (id, address, worker) in live)
        {
            try
            {
                var text = await http.GetStringAsync(new Uri(address, "/metrics"), cancellationToken);
                var processed = Sum(text, "workers_inbox_processed");
                var duplicates = Sum(text, "workers_inbox_duplicates");
                lock (workers)
                {
                    workers[id] = (address, worker, processed, duplicates);
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // The worker is dying or busy: keep its last figures.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        try
        {
            await loop;
        }
        catch (OperationCanceledException)
        {
        }

        stop.Dispose();
        http.Dispose();
    }

    internal static double Sum(string text, string metric)
    {
        double sum = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(metric, StringComparison.Ordinal) && (line.Length > metric.Length && line[metric.Length] is '_' or '{' or ' ')
                && double.TryParse(line[(line.LastIndexOf(' ') + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                sum += value;
            }
        }

        return sum;
    }

    private async Task LoopAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            await Task.Delay(1000, stop.Token);
            await ScrapeAsync(stop.Token);
        }
    }
}
