namespace Workers.Testing;

/// <summary>
/// How a <see cref="TcpProxy"/> moves the bytes of one direction of a connection: plain copying by default, or a
/// degraded network (latency, slicing, stalls) plugged in by a test.
/// </summary>
public interface ITcpPipe
{
    /// <summary>
    /// Forwards what arrives on <paramref name="from"/> to <paramref name="to"/> until <paramref name="from"/> ends
    /// (read returns 0) or <paramref name="cancellationToken"/> is cancelled (the proxy then closes both sides).
    /// </summary>
    Task ForwardAsync(Stream from, Stream to, CancellationToken cancellationToken);
}
