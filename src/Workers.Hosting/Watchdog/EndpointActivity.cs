using MassTransit;
using Workers.Resilience;
using Workers.Resilience.CircuitBreaker;

namespace Workers.Hosting;

/// <summary>
/// What one receive endpoint is doing, as MassTransit reports it: ready or not (and since when), deliveries in
/// flight, and when the last one arrived. Connected as the endpoint's observer at configuration, and as its receive
/// observer when it is first ready.
/// </summary>
internal sealed class EndpointActivity : IReceiveObserver, IReceiveEndpointObserver
{
    private readonly Lock gate = new();
    private readonly TimeProvider time;
    private IPausableEndpoint? control;
    private Uri? inputAddress;
    private bool ready;
    private DateTimeOffset readySince;
    private DateTimeOffset? notReadySince;
    private DateTimeOffset? lastReceived;
    private int inFlight;

    public EndpointActivity(string queue, TimeProvider time)
    {
        Queue = queue;
        this.time = time;
    }

    public string Queue { get; }

    /// <summary>Stops and starts the endpoint, once it was ready at least once.</summary>
    public IPausableEndpoint? Control
    {
        get
        {
            lock (gate)
            {
                return control;
            }
        }
    }

    public EndpointActivitySnapshot Snapshot()
    {
        lock (gate)
        {
            return new EndpointActivitySnapshot(ready, readySince, lastReceived, inFlight, inputAddress, notReadySince);
        }
    }

    public Task PreReceive(ReceiveContext context)
    {
        Received();
        return Task.CompletedTask;
    }

    public Task PostReceive(ReceiveContext context) => Done();

    /// <summary>A delivery arrived (it is in flight until <see cref="Done"/>).</summary>
    internal void Received()
    {
        lock (gate)
        {
            inFlight++;
            lastReceived = time.GetUtcNow();
        }
    }

    public Task PostConsume<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType)
        where T : class => Task.CompletedTask;

    public Task ConsumeFault<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception)
        where T : class => Task.CompletedTask;

    public Task ReceiveFault(ReceiveContext context, Exception exception) => Done();

    public Task Ready(ReceiveEndpointReady ready)
    {
        var endpoint = ready.ReceiveEndpoint;
        OnReady(ready.InputAddress, () =>
        {
            // The first time only: MassTransit keeps the observer across restarts of the endpoint.
            endpoint.ConnectReceiveObserver(this);
            return new ReceiveEndpointControl(endpoint, ready.InputAddress, CircuitBreakerConstants.EndpointReadyTimeout, time);
        });
        return Task.CompletedTask;
    }

    /// <summary>The endpoint is ready; <paramref name="createControl"/> runs the first time only.</summary>
    internal void OnReady(Uri address, Func<IPausableEndpoint> createControl)
    {
        lock (gate)
        {
            control ??= createControl();
            inputAddress = address;
            ready = true;
            readySince = time.GetUtcNow();
            notReadySince = null;
        }
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => NotReady();

    public Task Completed(ReceiveEndpointCompleted completed) => NotReady();

    public Task Faulted(ReceiveEndpointFaulted faulted) => NotReady();

    internal Task NotReady()
    {
        lock (gate)
        {
            if (ready)
            {
                notReadySince = time.GetUtcNow();
            }

            ready = false;
        }

        return Task.CompletedTask;
    }

    internal Task Done()
    {
        lock (gate)
        {
            inFlight = Math.Max(0, inFlight - 1);
        }

        return Task.CompletedTask;
    }
}

/// <summary>One reading of an <see cref="EndpointActivity"/>.</summary>
/// <param name="Ready">Whether MassTransit reports the endpoint ready.</param>
/// <param name="ReadySince">When it last became ready.</param>
/// <param name="LastReceived">When its last delivery arrived.</param>
/// <param name="InFlight">Deliveries in flight.</param>
/// <param name="InputAddress">Its input address, once ready.</param>
/// <param name="NotReadySince">When the endpoint, ready before, stopped being ready (null while ready or before its first ready).</param>
internal readonly record struct EndpointActivitySnapshot(bool Ready, DateTimeOffset ReadySince, DateTimeOffset? LastReceived, int InFlight, Uri? InputAddress, DateTimeOffset? NotReadySince = null);
