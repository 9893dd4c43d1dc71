using System.Net;
using System.Net.Sockets;

namespace Workers.Testing;

/// <summary>
/// A loopback TCP proxy in front of a service, so that one test can take "the network" away from its
/// client without touching the shared server: <see cref="Cut"/> drops every connection and refuses new ones,
/// <see cref="Restore"/> accepts again. The bytes of each direction go through an <see cref="ITcpPipe"/>: a plain
/// copy by default, or a test's own (latency, slicing, stalls).
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener listener;
    private readonly IPEndPoint target;
    private readonly CancellationTokenSource stopping = new();
    private readonly List<TcpClient> open = [];
    private readonly Task acceptLoop;
    private readonly ITcpPipe pipe;
    private volatile bool cut;

    /// <summary>
    /// Starts a proxy on 127.0.0.1 (a free port) forwarding to <paramref name="targetHost"/>:<paramref name="targetPort"/>;
    /// with <paramref name="enabled"/> false it starts cut (refusing) until <see cref="Restore"/>. Each direction of each
    /// connection is forwarded by <paramref name="pipe"/> (a plain copy when null).
    /// </summary>
    public TcpProxy(string targetHost, int targetPort, bool enabled = true, ITcpPipe? pipe = null)
    {
        cut = !enabled;
        this.pipe = pipe ?? CopyPipe.Instance;
        target = new IPEndPoint(Dns.GetHostAddresses(targetHost).First(a => a.AddressFamily == AddressFamily.InterNetwork), targetPort);
        listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        acceptLoop = AcceptAsync();
    }

    /// <summary>The proxy's port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>Whether the proxy forwards (not cut).</summary>
    public bool Enabled => !cut;

    /// <summary>Connections accepted so far.</summary>
    public int Accepted { get; private set; }

    /// <summary>Drops every open connection (a reset) and refuses new ones until <see cref="Restore"/>.</summary>
    public void Cut()
    {
        cut = true;
        lock (open)
        {
            foreach (var client in open)
            {
                client.Client.LingerState = new LingerOption(true, 0);
                client.Dispose();
            }

            open.Clear();
        }
    }

    /// <summary>Accepts connections again.</summary>
    public void Restore() => cut = false;

    /// <inheritdoc />
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
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stopping.Token);
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
                client.Client.LingerState = new LingerOption(true, 0);
                client.Dispose();
                continue;
            }

            Accepted++;
            _ = PipeAsync(client);
        }
    }

    private async Task PipeAsync(TcpClient client)
    {
        // No Nagle: what a pipe writes (e.g. a small slice) leaves as it is, and small frames are not held back.
        var upstream = new TcpClient { NoDelay = true };
        client.NoDelay = true;
        try
        {
            await upstream.ConnectAsync(target, stopping.Token);
            lock (open)
            {
                open.Add(client);
                open.Add(upstream);
            }

            using var both = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
            var a = pipe.ForwardAsync(client.GetStream(), upstream.GetStream(), both.Token);
            var b = pipe.ForwardAsync(upstream.GetStream(), client.GetStream(), both.Token);
            await Task.WhenAny(a, b);
            await both.CancelAsync();
        }
        catch (Exception)
        {
            // A cut or a closed peer ends the pipe; both sides are closed below.
        }
        finally
        {
            lock (open)
            {
                open.Remove(client);
                open.Remove(upstream);
            }

            client.Dispose();
            upstream.Dispose();
        }
    }

    private sealed class CopyPipe : ITcpPipe
    {
        public static readonly CopyPipe Instance = new();

        public Task ForwardAsync(Stream from, Stream to, CancellationToken cancellationToken) => from.CopyToAsync(to, cancellationToken);
    }
}
