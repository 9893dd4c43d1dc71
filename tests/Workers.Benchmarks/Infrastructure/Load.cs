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
}
