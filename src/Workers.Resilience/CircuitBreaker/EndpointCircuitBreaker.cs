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
    private readonly Lock gate = new();
    private readonly CircuitStateMachine machine;
    private readonly Type[] breakOn;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly BreakerEndpoints endpoints;
    private readonly FailureMemory failed;
    private TaskCompletionSource verdict = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? breakTimer;
    private string? lastFailure;
    private bool disposed;

    public EndpointCircuitBreaker(string name, CircuitBreakerOptions options, TimeProvider time, ILogger logger)
    {
        Name = name;
        this.time = time;
        this.logger = logger;
        machine = new CircuitStateMachine(options, time);
        DeferDelay = options.BreakDuration;

        // Remembered across a whole break cycle: a message returned while open is still known when it comes back as a probe.
        failed = new FailureMemory(CircuitBreakerConstants.FailureMemoryCapacity, options.SamplingDuration + options.MaxBreakDuration);
        breakOn = [.. options.BreakOnExceptions.Select(ExceptionClassifier.Resolve)];
        endpoints = new BreakerEndpoints(name, time, logger);
        CircuitBreakerTelemetry.Track(this);
    }

    public string Name { get; }

    /// <summary>How long a deferred probe waits in the delay ladder before it comes back (one <c>BreakDuration</c>).</summary>
    public TimeSpan DeferDelay { get; }

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
    internal Task PendingReconcile => endpoints.Pending;

    /// <summary>Whether every endpoint is consuming or paused as the breaker wants (tests and diagnostics).</summary>
    internal bool EndpointsSettled => endpoints.Settled;

    public CircuitBreakerSnapshot Snapshot()
    {
        lock (gate)
        {
            var (successes, failures) = machine.Totals;
            return new CircuitBreakerSnapshot(Name, machine.State, endpoints.Addresses, successes, failures, machine.OpenUntil, machine.ConsecutiveBreaks, machine.LastChange, lastFailure);
        }
    }

    /// <summary>
    /// A receive endpoint of this breaker is ready (called on every endpoint Ready, also after MassTransit recovered
    /// a connection): it consumes, and is stopped again at once while the breaker is open.
    /// </summary>
    public void Attach(IReceiveEndpoint endpoint, Uri inputAddress) =>
        endpoints.Ready(endpoint, () => new ReceiveEndpointControl(endpoint, inputAddress, CircuitBreakerConstants.EndpointReadyTimeout, time));

    /// <summary>An endpoint of this breaker, ready, given by the way to stop and start it.</summary>
    internal void Attach(IPausableEndpoint endpoint) => endpoints.Ready(endpoint, () => endpoint);

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
    internal bool BusRunning => endpoints.BusRunning;

    /// <summary>While the bus stops or is stopped, the endpoints are left alone.</summary>
    public void SetBusRunning(bool running) => endpoints.SetBusRunning(running);

    public void OnSuccess(bool probe)
    {
        lock (gate)
        {
            Apply(machine.OnSuccess(probe));
        }
    }

    /// <summary>Counts a transient failure as fresh evidence; returns true when the message must not fail as an ordinary attempt.</summary>
    public bool OnFailure(bool probe, Exception exception) => OnFailure(probe, exception, messageId: null, failedBefore: false) != CircuitFailureVerdict.Failed;

    /// <summary>
    /// A transient failure of message <paramref name="messageId"/>. It is a repeat failure when the message
    /// <paramref name="failedBefore"/> (it came back through the delay ladder) or this breaker saw it fail recently; a
    /// repeat failure is not evidence of an outage (see <see cref="CircuitStateMachine.OnFailure(bool, bool, bool, out bool)"/>).
    /// </summary>
    public CircuitFailureVerdict OnFailure(bool probe, Exception exception, string? messageId, bool failedBefore)
    {
        var breakNow = breakOn.Length > 0 && Chain(exception).Any(e => breakOn.Any(t => t.IsAssignableFrom(e.GetType())));
        lock (gate)
        {
            var now = time.GetUtcNow();
            var repeat = failedBefore || failed.Contains(messageId, now);
            failed.Remember(messageId, now);
            var transition = machine.OnFailure(probe, breakNow, repeat, out var deferred);
            if (deferred)
            {
                CircuitBreakerTelemetry.ProbeDeferred(Name);
                CircuitBreakerLog.ProbeDeferred(logger, Name, messageId, machine.DeferredProbes, machine.RepeatFailureProbes, DeferDelay, exception.GetType().Name);
                ReleaseWaiters();
                return CircuitFailureVerdict.Defer;
            }

            if (transition is { To: CircuitState.Open })
            {
                lastFailure = $"{exception.GetType().FullName}: {exception.Message}";
            }

            Apply(transition);
            return machine.State != CircuitState.Closed ? CircuitFailureVerdict.Requeue : CircuitFailureVerdict.Failed;
        }
    }

    /// <summary>
    /// A message ended without a verdict (permanent failure, requeue signal, move to the back, cancellation). When it was
    /// a half-open probe, its slot is free again: the messages waiting on it are released and one of them becomes the probe.
    /// </summary>
    public void OnAbandoned(bool probe)
    {
        lock (gate)
        {
            machine.OnAbandoned(probe);
            if (probe)
            {
                ReleaseWaiters();
            }
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

        endpoints.Dispose();
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
                endpoints.Want(false);
                break;
            case CircuitState.HalfOpen:
                CircuitBreakerLog.HalfOpened(logger, Name);
                endpoints.Want(true);
                break;
            default:
                CircuitBreakerLog.Closed(logger, Name);
                ReleaseWaiters();
                endpoints.Want(true);
                break;
        }
    }

    private void ReleaseWaiters()
    {
        var previous = verdict;
        verdict = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        previous.TrySetResult();
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
}

/// <summary>What becomes of a message that failed transiently, as the breaker sees it.</summary>
internal enum CircuitFailureVerdict
{
    /// <summary>An ordinary failed attempt: redelivery handles it.</summary>
    Failed,

    /// <summary>The circuit is not closed: back to the queue untouched, no attempt counted.</summary>
    Requeue,

    /// <summary>A half-open probe that failed again: deferred through the delay ladder, no attempt counted, no verdict.</summary>
    Defer,
}
