using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Workers.Testing;

/// <summary>
/// A loopback TCP proxy to break a connection on purpose: <see cref="Cut"/> drops every open connection and
/// refuses new ones (accepted then closed at once), <see cref="Restore"/> lets traffic through again.
/// Use it to take "the broker" away from one client without touching the shared broker.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly string targetHost;
    private readonly int targetPort;
    private readonly CancellationTokenSource stopping = new();
    private readonly ConcurrentDictionary<TcpClient, byte> open = new();
    private readonly Task acceptLoop;
    private volatile bool enabled;

    /// <summary>Starts listening on an ephemeral loopback port, forwarding to the target.</summary>
    /// <param name="targetHost">Host to forward to.</param>
    /// <param name="targetPort">Port to forward to.</param>
    /// <param name="enabled">Whether traffic flows from the start.</param>
    public TcpProxy(string targetHost, int targetPort, bool enabled = true)
    {
        this.targetHost = targetHost;
        this.targetPort = targetPort;
        this.enabled = enabled;
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        acceptLoop = AcceptAsync();
    }

    /// <summary>The local port clients connect to.</summary>
    public int Port { get; }

    /// <summary>Whether traffic currently flows.</summary>
    public bool Enabled => enabled;

    /// <summary>Drops every connection and refuses new ones.</summary>
    public void Cut()
    {
        enabled = false;
        foreach (var client in open.Keys)
        {
            Close(client);
        }
    }

    /// <summary>Lets new connections through again.</summary>
    public void Restore() => enabled = true;

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
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            var client = await listener.AcceptTcpClientAsync(stopping.Token);
            if (!enabled)
            {
                client.Client.LingerState = new LingerOption(true, 0);
                client.Dispose();
                continue;
            }

            _ = PipeAsync(client);
        }
    }

    private async Task PipeAsync(TcpClient client)
    {
        var upstream = new TcpClient();
        open[client] = 0;
        open[upstream] = 0;
        try
        {
            await upstream.ConnectAsync(targetHost, targetPort, stopping.Token);
            using var both = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
            var a = CopyAsync(client.GetStream(), upstream.GetStream(), both.Token);
            var b = CopyAsync(upstream.GetStream(), client.GetStream(), both.Token);
            await Task.WhenAny(a, b);
            await both.CancelAsync();
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
        }
        finally
        {
            Close(client);
            Close(upstream);
        }
    }

    private static async Task CopyAsync(NetworkStream from, NetworkStream to, CancellationToken cancellationToken)
    {
        try
        {
            await from.CopyToAsync(to, cancellationToken);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private void Close(TcpClient client)
    {
        open.TryRemove(client, out _);
        try
        {
            if (client.Connected)
            {
                client.Client.LingerState = new LingerOption(true, 0);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        client.Dispose();
    }
}
