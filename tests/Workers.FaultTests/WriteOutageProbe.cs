using System.Diagnostics;
using Npgsql;

namespace Workers.FaultTests;

/// <summary>
/// A writer beside the worker: one small INSERT every 100 ms through a (multi-host, primary-only) connection string,
/// each a fresh session, timing every acknowledged commit. <see cref="LongestGapAfter"/> is the write outage a
/// client of the database saw around a fault.
/// </summary>
internal sealed class WriteOutageProbe : IAsyncDisposable
{
    private readonly string connectionString;
    private readonly Stopwatch clock;
    private readonly List<long> acknowledged = [];
    private readonly CancellationTokenSource stop = new();
    private Task? loop;
    private int failures;

    private WriteOutageProbe(string connectionString, Stopwatch clock)
    {
        this.connectionString = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, Timeout = 2, CommandTimeout = 5 }.ConnectionString;
        this.clock = clock;
    }

    /// <summary>Failed writes so far.</summary>
    public int Failures => Volatile.Read(ref failures);

    /// <summary>Acknowledged writes so far.</summary>
    public int Acknowledged
    {
        get
        {
            lock (acknowledged)
            {
                return acknowledged.Count;
            }
        }
    }

    /// <summary>Creates the probe's table and starts writing; ticks come from <paramref name="clock"/>.</summary>
    public static async Task<WriteOutageProbe> StartAsync(string connectionString, Stopwatch clock, CancellationToken cancellationToken)
    {
        var probe = new WriteOutageProbe(connectionString, clock);
        await using (var connection = new NpgsqlConnection(probe.connectionString))
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("CREATE TABLE IF NOT EXISTS outage_probe (at timestamptz NOT NULL DEFAULT now())", connection);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        probe.loop = Task.Run(probe.RunAsync, CancellationToken.None);
        return probe;
    }

    /// <summary>The longest time between two acknowledged writes that ends after <paramref name="tick"/> (null while none has).</summary>
    public TimeSpan? LongestGapAfter(long tick)
    {
        lock (acknowledged)
        {
            long longest = -1;
            for (var i = 1; i < acknowledged.Count; i++)
            {
                if (acknowledged[i] > tick)
                {
                    longest = Math.Max(longest, acknowledged[i] - acknowledged[i - 1]);
                }
            }

            return longest < 0 ? null : TimeSpan.FromSeconds((double)longest / Stopwatch.Frequency);
        }
    }

    /// <summary>Whether a write was acknowledged after <paramref name="tick"/>.</summary>
    public bool WroteAfter(long tick)
    {
        lock (acknowledged)
        {
            return acknowledged.Count > 0 && acknowledged[^1] > tick;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        if (loop is not null)
        {
            await loop;
        }

        stop.Dispose();
    }

    private async Task RunAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(stop.Token);
                await using var command = new NpgsqlCommand("INSERT INTO outage_probe DEFAULT VALUES", connection);
                await command.ExecuteNonQueryAsync(stop.Token);
                lock (acknowledged)
                {
                    acknowledged.Add(clock.ElapsedTicks);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException or InvalidOperationException)
            {
                Interlocked.Increment(ref failures);
            }

            try
            {
                await Task.Delay(100, stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
