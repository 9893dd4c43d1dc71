namespace Workers.Postgres.Outbox;

/// <summary>An auto-reset wake-up: <see cref="Set"/> from anywhere, one waiter consumes it.</summary>
internal sealed class OutboxSignal
{
    private TaskCompletionSource signal = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Set() => Volatile.Read(ref signal).TrySetResult();

    /// <summary>Waits for a signal or <paramref name="timeout"/>; true when signalled.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var current = Volatile.Read(ref signal);
        if (current.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref signal, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), current);
            return true;
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(timeout, timeProvider, cts.Token);
        var winner = await Task.WhenAny(current.Task, delay).ConfigureAwait(false);
        await cts.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        if (winner == current.Task)
        {
            Interlocked.CompareExchange(ref signal, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), current);
            return true;
        }

        return false;
    }
}
