using System.Diagnostics;
using System.Threading.Channels;
using Workers.Testing;

namespace Workers.FaultTests;

/// <summary>
/// A loopback proxy (<see cref="TcpProxy"/> with a <see cref="FaultyPipe"/>) that degrades the network between a
/// worker and its broker, switchable at runtime: latency with jitter (order kept), slicing into small writes,
/// half-open (stops forwarding, keeps the sockets open), and cut (resets every connection and refuses new ones until
/// healed).
/// </summary>
internal sealed class FaultyProxy : IAsyncDisposable
{
    private readonly FaultyPipe pipe = new();
    private readonly TcpProxy proxy;

    public FaultyProxy(int targetPort) => proxy = new TcpProxy("127.0.0.1", targetPort, pipe: pipe);

    public int Port => proxy.Port;

    /// <summary>Adds latency (each chunk held latency ± jitter, never reordered).</summary>
    public void Slow(int latency, int jitter) => pipe.Slow(latency, jitter);

    /// <summary>Writes every chunk in slices of <paramref name="bytes"/> bytes (0 = whole chunks).</summary>
    public void Slice(int bytes) => pipe.Slice(bytes);

    /// <summary>Stops forwarding in both directions without closing anything; data waits until <see cref="Heal"/>.</summary>
    public void HalfOpen() => pipe.HalfOpen();

    /// <summary>Resets every connection and refuses new ones until <see cref="Heal"/>.</summary>
    public void Cut() => proxy.Cut();

    /// <summary>Back to a clean network.</summary>
    public void Heal()
    {
        pipe.Heal();
        proxy.Restore();
    }

    public ValueTask DisposeAsync() => proxy.DisposeAsync();
}

/// <summary>
/// The degraded network of <see cref="FaultyProxy"/>, one direction at a time: each chunk read is held for the
/// latency (± jitter, never reordered), written in slices, and held back entirely while half-open.
/// </summary>
internal sealed class FaultyPipe : ITcpPipe
{
    private volatile bool halfOpen;
    private volatile int latencyMs;
    private volatile int jitterMs;
    private volatile int sliceBytes;

    public void Slow(int latency, int jitter)
    {
        latencyMs = latency;
        jitterMs = jitter;
    }

    public void Slice(int bytes) => sliceBytes = bytes;

    public void HalfOpen() => halfOpen = true;

    public void Heal()
    {
        latencyMs = 0;
        jitterMs = 0;
        sliceBytes = 0;
        halfOpen = false;
    }

    public async Task ForwardAsync(Stream from, Stream to, CancellationToken cancellationToken)
    {
        var queue = Channel.CreateUnbounded<(byte[] Data, long Due)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var writer = WriteAsync(queue.Reader, to, cancellationToken);
        var buffer = new byte[64 * 1024];
        long lastDue = 0;
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                var delay = latencyMs + (jitterMs > 0 ? Random.Shared.Next(-jitterMs, jitterMs + 1) : 0);
                var due = Math.Max(lastDue, Stopwatch.GetTimestamp() + (Math.Max(0, delay) * Stopwatch.Frequency / 1000));
                lastDue = due;
                queue.Writer.TryWrite((buffer[..read], due));
            }
        }
        finally
        {
            queue.Writer.TryComplete();
        }

        await writer;
    }

    private async Task WriteAsync(ChannelReader<(byte[] Data, long Due)> chunks, Stream to, CancellationToken cancellationToken)
    {
        await foreach (var (data, due) in chunks.ReadAllAsync(cancellationToken))
        {
            while (halfOpen)
            {
                await Task.Delay(20, cancellationToken);
            }

            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            var slice = sliceBytes;
            for (var offset = 0; offset < data.Length;)
            {
                var length = slice > 0 ? Math.Min(slice, data.Length - offset) : data.Length - offset;
                await to.WriteAsync(data.AsMemory(offset, length), cancellationToken);
                offset += length;
            }
        }
    }
}
