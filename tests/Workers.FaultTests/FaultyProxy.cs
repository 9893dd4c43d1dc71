using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Workers.FaultTests;

/// <summary>
/// A loopback TCP proxy that degrades the network between a worker and its broker, switchable at runtime:
/// latency with jitter (order kept), slicing into small writes, half-open (stops forwarding, keeps the sockets open),
/// and cut (resets every connection and refuses new ones until healed).
/// </summary>
internal sealed class FaultyProxy : IAsyncDisposable
{
    private readonly TcpListener listener;
    private readonly IPEndPoint target;
    private readonly CancellationTokenSource stopping = new();
    private readonly List<Socket> open = [];
    private readonly Task acceptLoop;
    private volatile bool cut;
    private volatile bool halfOpen;
    private volatile int latencyMs;
    private volatile int jitterMs;
    private volatile int sliceBytes;

    public FaultyProxy(int targetPort)
    {
        target = new IPEndPoint(IPAddress.Loopback, targetPort);
        listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        acceptLoop = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>Adds latency (each chunk held latency ± jitter, never reordered).</summary>
    public void Slow(int latency, int jitter)
    {
        latencyMs = latency;
        jitterMs = jitter;
    }

    /// <summary>Writes every chunk in slices of <paramref name="bytes"/> bytes (0 = whole chunks).</summary>
    public void Slice(int bytes) => sliceBytes = bytes;

    /// <summary>Stops forwarding in both directions without closing anything; data waits until <see cref="Heal"/>.</summary>
    public void HalfOpen() => halfOpen = true;

    /// <summary>Resets every connection and refuses new ones until <see cref="Heal"/>.</summary>
    public void Cut()
    {
        cut = true;
        lock (open)
        {
            foreach (var socket in open)
            {
                socket.LingerState = new LingerOption(true, 0);
                socket.Dispose();
            }

            open.Clear();
        }
    }

    /// <summary>Back to a clean network.</summary>
    public void Heal()
    {
        latencyMs = 0;
        jitterMs = 0;
        sliceBytes = 0;
        halfOpen = false;
        cut = false;
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        listener.Stop();
        Cut();
        try
        {
            await acceptLoop;
        }
        catch (OperationCanceledException)
        {
        }

        stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptSocketAsync(stopping.Token);
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            if (cut)
            {
                client.LingerState = new LingerOption(true, 0);
                client.Dispose();
                continue;
            }

            _ = PipeAsync(client);
        }
    }

    private async Task PipeAsync(Socket client)
    {
        var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        using var both = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
        try
        {
            await upstream.ConnectAsync(target, stopping.Token);
            lock (open)
            {
                open.Add(client);
                open.Add(upstream);
            }

            await Task.WhenAny(ForwardAsync(client, upstream, both.Token), ForwardAsync(upstream, client, both.Token));
        }
        catch (Exception)
        {
            // A cut or a closed peer ends the pipe; both sides are closed below.
        }
        finally
        {
            await both.CancelAsync();
            lock (open)
            {
                open.Remove(client);
                open.Remove(upstream);
            }

            client.Dispose();
            upstream.Dispose();
        }
    }

    private async Task ForwardAsync(Socket from, Socket to, CancellationToken cancellationToken)
    {
        var queue = Channel.CreateUnbounded<(byte[] Data, long Due)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var writer = WriteAsync(queue.Reader, to, cancellationToken);
        var buffer = new byte[64 * 1024];
        long lastDue = 0;
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
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

    private async Task WriteAsync(ChannelReader<(byte[] Data, long Due)> chunks, Socket to, CancellationToken cancellationToken)
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
                offset += await to.SendAsync(data.AsMemory(offset, length), SocketFlags.None, cancellationToken);
            }
        }
    }
}
