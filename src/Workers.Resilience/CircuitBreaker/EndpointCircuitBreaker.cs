using MassTransit;
using Microsoft.Extensions.Logging;
using Workers.Resilience.Classification;

namespace Workers.Resilience.CircuitBreaker;

/// <summary>
/// One breaker at run time: the state machine behind a lock, the receive endpoints it pauses and resumes,
/// the timer that ends a break, and the telemetry of every transition.
/// </summary>
internal sealed class EndpointCircuitBreaker : IDisposable
{
    private static readonly TimeSpan EndpointStartTimeout = TimeSpan.FromMinutes(1);

    private readonly Lock gate = new();
    private readonly CircuitStateMachine machine;
    private readonly Type[] breakOn;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly List<IReceiveEndpoint> endpoints = [];
    private readonly List<Uri> addresses = [];
    private readonly SemaphoreSlim reconcileGate = new(1, 1);
    private TaskCompletionSource verdict = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? breakTimer;
    private bool endpointsWanted = true;
    private bool endpointsRunning = true;
    private string? lastFailure;
    private bool disposed;
    private volatile bool busRunning = true;

    public EndpointCircuitBreaker(string name, CircuitBreakerOptions options, TimeProvider time, ILogger logger)
    {
        Name = name;
        this.time = time;
        this.logger = logger;
        machine = new CircuitStateMachine(options, time);
        breakOn = [.. options.BreakOnExceptions.Select(ExceptionClassifier.Resolve)];
        CircuitBreakerTelemetry.Track(this);
    }

    public string Name { get; }

    public CircuitState State
    {
        get
        {
            lock (gate)
            {
                return machine.State;
            }
        }
    }

    /// <summary>Completes when the endpoints reached the state the breaker wants (tests and diagnostics).</summary>
    internal Task? PendingReconcile { get; private set; }

    public CircuitBreakerSnapshot Snapshot()
    {
        lock (gate)
        {
            var (successes, failures) = machine.Totals;
            return new CircuitBreakerSnapshot(Name, machine.State, [.. addresses], successes, failures, machine.OpenUntil, machine.ConsecutiveBreaks, machine.LastChange, lastFailure);
        }
    }

    /// <summary>Registers a receive endpoint to pause and resume (called on every endpoint Ready).</summary>
    public void Attach(IReceiveEndpoint endpoint, Uri inputAddress)
    {
        bool stopNow;
        lock (gate)
        {
            if (!endpoints.Contains(endpoint))
            {
                endpoints.Add(endpoint);
                addresses.Add(inputAddress);
            }

            stopNow = !endpointsWanted;
        }

        if (stopNow)
        {
            Reconcile();
        }
    }

    /// <summary>
    /// Admits a message: returns whether it runs as a half-open probe; throws <see cref="CircuitBreakerOpenException"/>
    /// when it must go back to the queue; waits while the probes decide.
    /// </summary>
    public async ValueTask<bool> EnterAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (gate)
            {
                ObjectDisposedException.ThrowIf(disposed, this);
                var decision = machine.Enter(out var transition);
                Apply(transition);
                switch (decision)
                {
                    case CircuitDecision.Allow:
                        return false;
                    case CircuitDecision.Probe:
                        return true;
                    case CircuitDecision.Reject:
                        throw new CircuitBreakerOpenException($"Circuit '{Name}' is open: the message is returned to the queue.");
                    default:
                        wait = verdict.Task;
                        break;
                }
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>False while the bus stops or is stopped: the endpoints are left alone.</summary>
    internal bool BusRunning => busRunning;

    public void SetBusRunning(bool running)
    {
        busRunning = running;
        if (running)
        {
            Reconcile();
        }
    }

    public void OnSuccess(bool probe)
    {
        lock (gate)
        {
            Apply(machine.OnSuccess(probe));
        }
    }

    /// <summary>Counts a transient failure; returns true when the breaker is no longer closed (the message goes back to the queue).</summary>
    public bool OnFailure(bool probe, Exception exception)
    {
        var breakNow = breakOn.Length > 0 && Chain(exception).Any(e => breakOn.Any(t => t.IsAssignableFrom(e.GetType())));
        lock (gate)
        {
            var transition = machine.OnFailure(probe, breakNow);
            if (transition is { To: CircuitState.Open })
            {
                lastFailure = $"{exception.GetType().FullName}: {exception.Message}";
            }

            Apply(transition);
            return machine.State != CircuitState.Closed;
        }
    }

    public void OnAbandoned(bool probe)
    {
        lock (gate)
        {
            machine.OnAbandoned(probe);
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            disposed = true;
            breakTimer?.Dispose();
            breakTimer = null;
            verdict.TrySetResult();
        }

        CircuitBreakerTelemetry.Untrack(this);
    }

    private static IEnumerable<Exception> Chain(Exception exception)
    {
        var current = exception;
        for (var depth = 0; current is not null && depth < 8; depth++)
        {
            yield return current;
            current = current is AggregateException { InnerExceptions.Count: 1 } aggregate ? aggregate.InnerExceptions[0] : current.InnerException;
        }
    }

    // Called under the lock.
    private void Apply(CircuitTransition? transition)
    {
        if (transition is not { } t || disposed)
        {
            return;
        }

        CircuitBreakerTelemetry.Transitioned(Name, t);
        switch (t.To)
        {
            case CircuitState.Open:
                var (successes, failures) = machine.Totals;
                CircuitBreakerLog.Opened(logger, Name, t.BreakDuration, machine.ConsecutiveBreaks, failures, successes + failures, lastFailure);
                breakTimer?.Dispose();
                breakTimer = time.CreateTimer(static state => ((EndpointCircuitBreaker)state!).OnBreakTimer(), this, t.BreakDuration, System.Threading.Timeout.InfiniteTimeSpan);
                ReleaseWaiters();
                WantEndpoints(false);
                break;
            case CircuitState.HalfOpen:
                CircuitBreakerLog.HalfOpened(logger, Name);
                WantEndpoints(true);
                break;
            default:
                CircuitBreakerLog.Closed(logger, Name);
                ReleaseWaiters();
                WantEndpoints(true);
                break;
        }
    }

    private void ReleaseWaiters()
    {
        var previous = verdict;
        verdict = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        previous.TrySetResult();
    }

    private void WantEndpoints(bool running)
    {
        if (endpointsWanted == running)
        {
            return;
        }

        endpointsWanted = running;
        Reconcile();
    }

    private void OnBreakTimer()
    {
        lock (gate)
        {
            Apply(machine.OnBreakElapsed());
            if (!disposed && machine.State == CircuitState.Open && machine.OpenUntil is { } until)
            {
                // Timers may fire a little before the wall clock reaches the end of the break: re-arm for the rest.
                var rest = until - time.GetUtcNow();
                breakTimer?.Change(rest > TimeSpan.FromMilliseconds(1) ? rest : TimeSpan.FromMilliseconds(1), System.Threading.Timeout.InfiniteTimeSpan);
            }
        }
    }

    private void Reconcile() => PendingReconcile = Task.Run(ReconcileAsync);

    // Stops or starts the endpoints until they are in the wanted state; never runs inside a consume pipe,
    // because stopping an endpoint waits for its in-flight messages.
    private async Task ReconcileAsync()
    {
        await reconcileGate.WaitAsync().ConfigureAwait(false);
        try
        {
            while (true)
            {
                bool wanted;
                IReceiveEndpoint[] targets;
                Uri[] targetAddresses;
                lock (gate)
                {
                    if (disposed || !busRunning || endpointsWanted == endpointsRunning)
                    {
                        return;
                    }

                    wanted = endpointsWanted;
                    targets = [.. endpoints];
                    targetAddresses = [.. addresses];
                }

                for (var i = 0; i < targets.Length; i++)
                {
                    var action = wanted ? "start" : "stop";
                    try
                    {
                        CircuitBreakerLog.EndpointAction(logger, Name, action, targetAddresses[i]);
                        if (wanted)
                        {
                            var handle = targets[i].Start(CancellationToken.None);
                            await handle.Ready.WaitAsync(EndpointStartTimeout, time).ConfigureAwait(false);
                        }
                        else
                        {
                            await targets[i].Stop(CancellationToken.None).ConfigureAwait(false);
                        }
                    }
                    catch (Exception ex)
                    {
                        CircuitBreakerLog.EndpointActionFailed(logger, ex, Name, action, targetAddresses[i]);
                    }
                }

                lock (gate)
                {
                    endpointsRunning = wanted;
                }
            }
        }
        finally
        {
            reconcileGate.Release();
        }
    }
}
