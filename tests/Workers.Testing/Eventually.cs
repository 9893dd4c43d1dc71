using System.Diagnostics;

namespace Workers.Testing;

/// <summary>Waits on a real condition, polled, with a bound: never a fixed sleep "until it probably worked".</summary>
public static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until it holds; throws <see cref="TimeoutException"/> naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static Task HoldsAsync(Func<bool> condition, TimeSpan timeout, string what, CancellationToken cancellationToken = default) =>
        HoldsAsync(() => Task.FromResult(condition()), timeout, what, cancellationToken);

    /// <summary>Polls the asynchronous <paramref name="condition"/> until it holds; throws <see cref="TimeoutException"/> naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static Task HoldsAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, CancellationToken cancellationToken = default) =>
        HoldsAsync(condition, timeout, () => Task.FromResult(what), cancellationToken);

    /// <summary>
    /// Polls <paramref name="condition"/> until it holds; after <paramref name="timeout"/> throws a
    /// <see cref="TimeoutException"/> whose message <paramref name="describe"/> builds then (so it can show the state reached).
    /// </summary>
    public static async Task HoldsAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<Task<string>> describe, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(describe);
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        var pause = TimeSpan.FromMilliseconds(20);
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"Timed out after {timeout} waiting for: {await describe()}.");
            }

            await Task.Delay(pause, cancellationToken);
            pause = TimeSpan.FromMilliseconds(Math.Min(200, pause.TotalMilliseconds * 2));
        }
    }
}
