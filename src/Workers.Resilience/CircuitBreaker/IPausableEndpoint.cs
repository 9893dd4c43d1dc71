using MassTransit;

namespace Workers.Resilience.CircuitBreaker;

/// <summary>What a breaker does to a receive endpoint: start it (until it consumes) and stop it.</summary>
internal interface IPausableEndpoint
{
    Uri Address { get; }

    /// <summary>Starts consuming; completes when the endpoint is ready, throws when it did not get there.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Stops consuming; completes when in-flight messages are done.</summary>
    Task StopAsync(CancellationToken cancellationToken);
}

/// <summary>
/// <see cref="IPausableEndpoint"/> over a MassTransit receive endpoint. MassTransit keeps an endpoint's start handle
/// when its stop faulted (e.g. the connection dropped while stopping); a later start then throws "already started"
/// while nothing consumes. This adapter stops such an endpoint for good and starts it again.
/// </summary>
internal sealed class ReceiveEndpointControl : IPausableEndpoint
{
    private readonly IReceiveEndpoint endpoint;
    private readonly TimeSpan readyTimeout;
    private readonly TimeProvider time;

    public ReceiveEndpointControl(IReceiveEndpoint endpoint, Uri address, TimeSpan readyTimeout, TimeProvider time)
    {
        this.endpoint = endpoint;
        Address = address;
        this.readyTimeout = readyTimeout;
        this.time = time;
    }

    public Uri Address { get; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        ReceiveEndpointHandle handle;
        try
        {
            handle = endpoint.Start(CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            // "already started": a handle left behind by a faulted stop, or a start that never got ready.
            await endpoint.Stop(cancellationToken).ConfigureAwait(false);
            handle = endpoint.Start(CancellationToken.None);
        }

        await handle.Ready.WaitAsync(readyTimeout, time, cancellationToken).ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => endpoint.Stop(cancellationToken);
}
