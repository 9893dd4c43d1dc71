using System.Diagnostics;

namespace Workers.Benchmarks.Infrastructure;

/// <summary>Runs an operation for ids 0..count-1 with at most <c>window</c> in flight (the confirm window).</summary>
internal static class Load
{
    public static async Task RunAsync(int count, int window, Func<long, CancellationToken, Task> operation, CancellationToken cancellationToken, int firstId = 0)
    {
        using var gate = new SemaphoreSlim(window, window);
        var tasks = new List<Task>(count);
        Exception? failure = null;
        for (var i = 0; i < count && failure is null; i++)
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            var id = firstId + i;
            tasks.Add(RunOneAsync(id));
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);

        async Task RunOneAsync(long id)
        {
            try
            {
                await operation(id, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                failure ??= exception;
                throw;
            }
            finally
            {
                gate.Release();
            }
        }
    }

    /// <summary>
    /// Starts operation <c>i</c> at its intended time <c>start + i / rate</c> (handed over as a
    /// <see cref="Stopwatch"/> timestamp) without waiting for earlier ones, at most 10 000 in flight, then waits
    /// for all of them. A stalled operation delays none of the later starts (no coordinated omission).
    /// </summary>
    public static async Task PacedAsync(int count, double rate, Func<long, long, CancellationToken, Task> operation, CancellationToken cancellationToken)
    {
        using var gate = new SemaphoreSlim(10_000, 10_000);
        var pending = new List<Task>(count);
        var start = Stopwatch.GetTimestamp();
        var ticksPerMessage = Stopwatch.Frequency / rate;
        var sent = 0;
        while (sent < count)
        {
            var due = (long)((Stopwatch.GetTimestamp() - start) / ticksPerMessage) + 1;
            while (sent < count && sent < due)
            {
                var intended = start + (long)(sent * ticksPerMessage);
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                pending.Add(RunOneAsync(sent, intended));
                sent++;
            }

            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
        }

        await Task.WhenAll(pending).ConfigureAwait(false);

        async Task RunOneAsync(long id, long intended)
        {
            try
            {
                await operation(id, intended, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                gate.Release();
            }
        }
    }
}
