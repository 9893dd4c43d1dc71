using Microsoft.Extensions.Logging;

namespace Workers.Resilience.CircuitBreaker;

/// <summary>
/// The receive endpoints of one breaker and the loop that brings them to the state the breaker wants.
/// Each endpoint's state is what was last observed (ready) or achieved (a start or stop that returned). A transport
/// "completed" event is not a pause: MassTransit raises it on every lost connection and recovers by itself.
/// an action that fails is retried with backoff until it succeeds, the wanted state changes or the bus stops,
/// so that a start or stop lost to a broker outage never leaves an endpoint paused for good.
/// </summary>
internal sealed class BreakerEndpoints : IDisposable
{
    private readonly Lock gate = new();
    private readonly List<Slot> slots = [];
    private readonly SemaphoreSlim loopGate = new(1, 1);
    private readonly CancellationTokenSource disposing = new();
    private readonly string name;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private bool wanted = true;
    private bool busRunning = true;
    private bool disposed;

    public BreakerEndpoints(string name, TimeProvider time, ILogger logger)
    {
        this.name = name;
        this.time = time;
        this.logger = logger;
    }

    /// <summary>Completes when the last reconciliation ended (tests and diagnostics).</summary>
    public Task Pending { get; private set; } = Task.CompletedTask;

    public IReadOnlyList<Uri> Addresses
    {
        get
        {
            lock (gate)
            {
                return [.. slots.Select(s => s.Endpoint.Address)];
            }
        }
    }

    /// <summary>Whether every endpoint is in the wanted state (consuming, or paused).</summary>
    public bool Settled
    {
        get
        {
            lock (gate)
            {
                return slots.TrueForAll(s => s.Consuming == wanted);
            }
        }
    }

    public bool BusRunning
    {
        get
        {
            lock (gate)
            {
                return busRunning;
            }
        }
    }

    /// <summary>An endpoint reported ready: it consumes. Stopped again at once when the breaker wants it paused.</summary>
    public void Ready(object key, Func<IPausableEndpoint> create)
    {
        lock (gate)
        {
            var slot = slots.Find(s => ReferenceEquals(s.Key, key));
            if (slot is null)
            {
                slots.Add(new Slot(key, create()) { Consuming = true });
            }
            else
            {
                slot.Consuming = true;
            }
        }

        Reconcile();
    }

    public void Want(bool consuming)
    {
        lock (gate)
        {
            if (wanted == consuming)
            {
                return;
            }

            wanted = consuming;
        }

        Reconcile();
    }

    public void SetBusRunning(bool running)
    {
        lock (gate)
        {
            busRunning = running;
        }

        if (running)
        {
            Reconcile();
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
        }

        disposing.Cancel();
    }

    private void Reconcile()
    {
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            Pending = Task.Run(ReconcileAsync);
        }
    }

    // Stops or starts endpoints until each is in the wanted state; never runs inside a consume pipe, because
    // stopping an endpoint waits for its in-flight messages.
    private async Task ReconcileAsync()
    {
        try
        {
            await loopGate.WaitAsync(disposing.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        try
        {
            var failures = 0;
            while (true)
            {
                bool target;
                Slot[] work;
                lock (gate)
                {
                    if (disposed || !busRunning)
                    {
                        return;
                    }

                    target = wanted;
                    work = [.. slots.Where(s => s.Consuming != target)];
                }

                if (work.Length == 0)
                {
                    return;
                }

                var failed = false;
                foreach (var slot in work)
                {
                    failed |= !await ApplyAsync(slot, target).ConfigureAwait(false);
                }

                if (failed)
                {
                    failures++;
                    var delay = CircuitBreakerConstants.EndpointRetryDelay(failures);
                    CircuitBreakerLog.EndpointRetry(logger, name, delay, failures);
                    await Task.Delay(delay, time, disposing.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (disposing.IsCancellationRequested)
        {
        }
        finally
        {
            loopGate.Release();
        }
    }

    private async Task<bool> ApplyAsync(Slot slot, bool consuming)
    {
        var action = consuming ? "start" : "stop";
        try
        {
            CircuitBreakerLog.EndpointAction(logger, name, action, slot.Endpoint.Address);
            if (consuming)
            {
                await slot.Endpoint.StartAsync(disposing.Token).ConfigureAwait(false);
            }
            else
            {
                await slot.Endpoint.StopAsync(disposing.Token).ConfigureAwait(false);
            }

            lock (gate)
            {
                slot.Consuming = consuming;
            }

            return true;
        }
        catch (Exception ex) when (!disposing.IsCancellationRequested)
        {
            CircuitBreakerLog.EndpointActionFailed(logger, ex, name, action, slot.Endpoint.Address);
            return false;
        }
    }

    private sealed class Slot(object key, IPausableEndpoint endpoint)
    {
        public object Key { get; } = key;

        public IPausableEndpoint Endpoint { get; } = endpoint;

        public bool Consuming { get; set; }
    }
}
