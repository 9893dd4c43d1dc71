namespace Workers.Resilience.CircuitBreaker;

/// <summary>What the breaker says about one incoming message.</summary>
internal enum CircuitDecision
{
    /// <summary>Closed: run it.</summary>
    Allow,

    /// <summary>Half-open: run it as a probe; its outcome decides the state.</summary>
    Probe,

    /// <summary>Half-open with every probe slot taken: wait for the verdict, then ask again.</summary>
    Wait,

    /// <summary>Open: return it to the queue.</summary>
    Reject,
}

/// <summary>A change of state, with the moment and the break duration chosen when opening.</summary>
internal readonly record struct CircuitTransition(CircuitState From, CircuitState To, DateTimeOffset At, TimeSpan BreakDuration);

/// <summary>
/// The breaker's state machine: closed → open (ratio of fresh failures, or a break-on exception) → half-open (after the
/// break) → closed (a probe succeeded) or open again with a longer break (a probe failed for the first time, or too many
/// probes failed again in this half-open period). Pure: time comes from the
/// <see cref="TimeProvider"/>, nothing else is touched. Not thread-safe: the caller serialises calls.
/// </summary>
internal sealed class CircuitStateMachine
{
    private readonly TimeProvider time;
    private readonly SlidingWindow window;
    private readonly double failureRatio;
    private readonly int minimumThroughput;
    private readonly TimeSpan breakDuration;
    private readonly TimeSpan maxBreakDuration;
    private readonly double breakDurationFactor;
    private readonly int halfOpenProbes;
    private readonly int repeatFailureProbes;
    private int probesInFlight;
    private int deferredProbes;

    public CircuitStateMachine(CircuitBreakerOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        this.time = time;
        window = new SlidingWindow(options.SamplingDuration);
        failureRatio = options.FailureRatio;
        minimumThroughput = options.MinimumThroughput;
        breakDuration = options.BreakDuration;
        maxBreakDuration = options.MaxBreakDuration;
        breakDurationFactor = options.BreakDurationFactor;
        halfOpenProbes = options.HalfOpenProbes;
        repeatFailureProbes = options.RepeatFailureProbes;
        LastChange = time.GetUtcNow();
    }

    public CircuitState State { get; private set; } = CircuitState.Closed;

    /// <summary>When an open breaker may turn half-open.</summary>
    public DateTimeOffset? OpenUntil { get; private set; }

    /// <summary>Openings since the breaker was last closed.</summary>
    public int ConsecutiveBreaks { get; private set; }

    public DateTimeOffset LastChange { get; private set; }

    public int ProbesInFlight => probesInFlight;

    /// <summary>Probes that failed again and were deferred in the current half-open period.</summary>
    public int DeferredProbes => deferredProbes;

    /// <summary>How many repeat-failure probes a half-open period defers before the circuit reopens.</summary>
    public int RepeatFailureProbes => repeatFailureProbes;

    public (int Successes, int Failures) Totals => window.Totals(time.GetUtcNow());

    /// <summary>The break that the next opening would use.</summary>
    public TimeSpan NextBreakDuration()
    {
        var factor = Math.Pow(breakDurationFactor, ConsecutiveBreaks);
        var ticks = breakDuration.Ticks * factor;
        return ticks >= maxBreakDuration.Ticks ? maxBreakDuration : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>Decides for an incoming message; may turn an expired open breaker half-open.</summary>
    public CircuitDecision Enter(out CircuitTransition? transition)
    {
        transition = null;
        if (State == CircuitState.Open)
        {
            transition = OnBreakElapsed();
            if (State == CircuitState.Open)
            {
                return CircuitDecision.Reject;
            }
        }

        if (State == CircuitState.Closed)
        {
            return CircuitDecision.Allow;
        }

        if (probesInFlight < halfOpenProbes)
        {
            probesInFlight++;
            return CircuitDecision.Probe;
        }

        return CircuitDecision.Wait;
    }

    /// <summary>The message succeeded.</summary>
    public CircuitTransition? OnSuccess(bool probe)
    {
        var now = time.GetUtcNow();
        if (probe)
        {
            probesInFlight = Math.Max(0, probesInFlight - 1);
            if (State == CircuitState.HalfOpen)
            {
                ConsecutiveBreaks = 0;
                window.Reset();
                return MoveTo(CircuitState.Closed, now, TimeSpan.Zero);
            }
        }

        if (State == CircuitState.Closed)
        {
            window.RecordSuccess(now);
        }

        return null;
    }

    /// <summary>The message failed transiently, as fresh evidence (see the other overload).</summary>
    public CircuitTransition? OnFailure(bool probe, bool breakNow) => OnFailure(probe, breakNow, repeat: false, out _);

    /// <summary>
    /// The message failed transiently; <paramref name="breakNow"/> for a break-on exception. A <paramref name="repeat"/>
    /// failure (the message had failed before) is not evidence of an outage: while closed it is not counted; as a
    /// half-open probe it is <paramref name="deferred"/> — no verdict, the next message probes — up to
    /// <see cref="CircuitBreakerOptions.RepeatFailureProbes"/> per half-open period, after which it reopens the circuit.
    /// </summary>
    public CircuitTransition? OnFailure(bool probe, bool breakNow, bool repeat, out bool deferred)
    {
        deferred = false;
        var now = time.GetUtcNow();
        if (probe)
        {
            probesInFlight = Math.Max(0, probesInFlight - 1);
            if (State == CircuitState.HalfOpen)
            {
                if (repeat && !breakNow && deferredProbes < repeatFailureProbes)
                {
                    deferredProbes++;
                    deferred = true;
                    return null;
                }

                return Open(now);
            }
        }

        if (State != CircuitState.Closed)
        {
            return null;
        }

        if (breakNow)
        {
            window.RecordFailure(now);
            return Open(now);
        }

        if (repeat)
        {
            return null;
        }

        window.RecordFailure(now);
        var (successes, failures) = window.Totals(now);
        var total = successes + failures;
        return total >= minimumThroughput && failures >= failureRatio * total ? Open(now) : null;
    }

    /// <summary>A message ended without a verdict (permanent failure, cancellation, requeued): frees its probe slot.</summary>
    public void OnAbandoned(bool probe)
    {
        if (probe)
        {
            probesInFlight = Math.Max(0, probesInFlight - 1);
        }
    }

    /// <summary>Turns an open breaker half-open once its break is over.</summary>
    public CircuitTransition? OnBreakElapsed()
    {
        var now = time.GetUtcNow();
        if (State != CircuitState.Open || OpenUntil is not { } until || now < until)
        {
            return null;
        }

        probesInFlight = 0;
        deferredProbes = 0;
        return MoveTo(CircuitState.HalfOpen, now, TimeSpan.Zero);
    }

    private CircuitTransition Open(DateTimeOffset now)
    {
        var duration = NextBreakDuration();
        ConsecutiveBreaks++;
        OpenUntil = now + duration;
        window.Reset();
        return MoveTo(CircuitState.Open, now, duration);
    }

    private CircuitTransition MoveTo(CircuitState state, DateTimeOffset now, TimeSpan duration)
    {
        var from = State;
        State = state;
        LastChange = now;
        if (state != CircuitState.Open)
        {
            OpenUntil = null;
        }

        return new CircuitTransition(from, state, now, duration);
    }
}
