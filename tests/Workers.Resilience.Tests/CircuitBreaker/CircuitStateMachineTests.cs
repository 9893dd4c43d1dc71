using Microsoft.Extensions.Time.Testing;
using Workers.Resilience.CircuitBreaker;
using Xunit;

namespace Workers.Resilience.Tests.CircuitBreaker;

public sealed class CircuitStateMachineTests
{
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private static CircuitBreakerOptions Options(Action<CircuitBreakerOptions>? configure = null)
    {
        var options = new CircuitBreakerOptions
        {
            FailureRatio = 0.5,
            MinimumThroughput = 4,
            SamplingDuration = TimeSpan.FromSeconds(10),
            BreakDuration = TimeSpan.FromSeconds(5),
            BreakDurationFactor = 2,
            MaxBreakDuration = TimeSpan.FromSeconds(30),
            HalfOpenProbes = 1,
        };
        configure?.Invoke(options);
        return options;
    }

    private CircuitStateMachine Create(Action<CircuitBreakerOptions>? configure = null) => new(Options(configure), time);

    private static void Run(CircuitStateMachine machine, int successes, int failures)
    {
        for (var i = 0; i < successes; i++)
        {
            Assert.Equal(CircuitDecision.Allow, machine.Enter(out _));
            machine.OnSuccess(probe: false);
        }

        for (var i = 0; i < failures; i++)
        {
            Assert.Equal(CircuitDecision.Allow, machine.Enter(out _));
            machine.OnFailure(probe: false, breakNow: false);
        }
    }

    private CircuitStateMachine Opened()
    {
        var machine = Create();
        Run(machine, 0, 4);
        Assert.Equal(CircuitState.Open, machine.State);
        return machine;
    }

    [Fact]
    public void FailuresBelowMinimumThroughput_StayClosed()
    {
        var machine = Create();
        Run(machine, 0, 3);
        Assert.Equal(CircuitState.Closed, machine.State);
        Assert.Equal((0, 3), machine.Totals);
    }

    [Fact]
    public void RatioReachedWithMinimumThroughput_Opens()
    {
        var machine = Create();
        Run(machine, 2, 1);
        Assert.Equal(CircuitState.Closed, machine.State);

        Assert.Equal(CircuitDecision.Allow, machine.Enter(out _));
        var transition = machine.OnFailure(probe: false, breakNow: false);

        Assert.Equal(CircuitState.Open, machine.State);
        Assert.Equal(new CircuitTransition(CircuitState.Closed, CircuitState.Open, time.GetUtcNow(), TimeSpan.FromSeconds(5)), transition);
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromSeconds(5), machine.OpenUntil);
        Assert.Equal(1, machine.ConsecutiveBreaks);
    }

    [Fact]
    public void RatioBelowThreshold_StaysClosed()
    {
        var machine = Create();
        Run(machine, 7, 3);
        Assert.Equal(CircuitState.Closed, machine.State);
    }

    [Fact]
    public void FailuresOlderThanSamplingDuration_SlideOutOfTheWindow()
    {
        var machine = Create();
        Run(machine, 0, 3);
        time.Advance(TimeSpan.FromSeconds(11));
        Run(machine, 0, 1);
        Assert.Equal(CircuitState.Closed, machine.State);
        Assert.Equal((0, 1), machine.Totals);
    }

    [Fact]
    public void FailuresWithinSamplingDuration_AddUp()
    {
        var machine = Create();
        Run(machine, 0, 3);
        time.Advance(TimeSpan.FromSeconds(8));
        Run(machine, 0, 1);
        Assert.Equal(CircuitState.Open, machine.State);
    }

    [Fact]
    public void BreakOnException_OpensBelowMinimumThroughput()
    {
        var machine = Create();
        Run(machine, 5, 0);
        Assert.Equal(CircuitDecision.Allow, machine.Enter(out _));
        machine.OnFailure(probe: false, breakNow: true);
        Assert.Equal(CircuitState.Open, machine.State);
    }

    [Fact]
    public void Open_RejectsUntilTheBreakIsOver_ThenLetsOneProbeThrough()
    {
        var machine = Opened();
        time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.Equal(CircuitDecision.Reject, machine.Enter(out var none));
        Assert.Null(none);
        Assert.Null(machine.OnBreakElapsed());

        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal(CircuitDecision.Probe, machine.Enter(out var transition));
        Assert.Equal(CircuitState.HalfOpen, transition?.To);
        Assert.Equal(CircuitDecision.Wait, machine.Enter(out _));
    }

    [Fact]
    public void BreakElapsed_TurnsHalfOpenWithoutAMessage()
    {
        var machine = Opened();
        time.Advance(TimeSpan.FromSeconds(5));
        var transition = machine.OnBreakElapsed();
        Assert.Equal(CircuitState.HalfOpen, transition?.To);
        Assert.Equal(CircuitState.HalfOpen, machine.State);
        Assert.Null(machine.OpenUntil);
    }

    [Fact]
    public void HalfOpenProbes_LimitConcurrentProbes()
    {
        var machine = Create(o => o.HalfOpenProbes = 2);
        Run(machine, 0, 4);
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(CircuitDecision.Probe, machine.Enter(out _));
        Assert.Equal(CircuitDecision.Probe, machine.Enter(out _));
        Assert.Equal(CircuitDecision.Wait, machine.Enter(out _));
        Assert.Equal(2, machine.ProbesInFlight);
    }

    [Fact]
    public void ProbeSuccess_Closes_AndResetsTheBreakDuration()
    {
        var machine = Opened();
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(CircuitDecision.Probe, machine.Enter(out _));
        var transition = machine.OnSuccess(probe: true);

        Assert.Equal(new CircuitTransition(CircuitState.HalfOpen, CircuitState.Closed, time.GetUtcNow(), TimeSpan.Zero), transition);
        Assert.Equal(0, machine.ConsecutiveBreaks);
        Assert.Equal(TimeSpan.FromSeconds(5), machine.NextBreakDuration());
        Assert.Equal((0, 0), machine.Totals);
        Assert.Equal(CircuitDecision.Allow, machine.Enter(out _));
    }

    [Fact]
    public void ProbeFailures_Reopen_WithGrowingBreaksCappedAtMax()
    {
        var machine = Opened();
        var breaks = new List<TimeSpan>();
        for (var i = 0; i < 5; i++)
        {
            time.Advance(machine.OpenUntil!.Value - time.GetUtcNow());
            Assert.Equal(CircuitDecision.Probe, machine.Enter(out _));
            var transition = machine.OnFailure(probe: true, breakNow: false);
            Assert.Equal(CircuitState.Open, transition?.To);
            breaks.Add(transition!.Value.BreakDuration);
        }

        Assert.Equal([10, 20, 30, 30, 30], breaks.Select(b => b.TotalSeconds));
        Assert.Equal(6, machine.ConsecutiveBreaks);
    }

    [Fact]
    public void ConstantBreakFactor_KeepsTheSameBreak()
    {
        var machine = Create(o => o.BreakDurationFactor = 1);
        Run(machine, 0, 4);
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(CircuitDecision.Probe, machine.Enter(out _));
        Assert.Equal(TimeSpan.FromSeconds(5), machine.OnFailure(probe: true, breakNow: false)!.Value.BreakDuration);
    }

    [Fact]
    public void AbandonedProbe_FreesItsSlotWithoutAVerdict()
    {
        var machine = Opened();
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(CircuitDecision.Probe, machine.Enter(out _));
        machine.OnAbandoned(probe: true);
        Assert.Equal(CircuitState.HalfOpen, machine.State);
        Assert.Equal(CircuitDecision.Probe, machine.Enter(out _));
    }

    [Fact]
    public void FailuresWhileOpen_DoNotExtendTheBreak()
    {
        var machine = Opened();
        var until = machine.OpenUntil;
        Assert.Null(machine.OnFailure(probe: false, breakNow: true));
        Assert.Equal(until, machine.OpenUntil);
        Assert.Equal(1, machine.ConsecutiveBreaks);
    }

    [Fact]
    public void LateSuccessOfANonProbe_WhileHalfOpen_DoesNotClose()
    {
        var machine = Opened();
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Null(machine.OnSuccess(probe: false));
        Assert.Equal(CircuitState.Open, machine.State);
        Assert.NotNull(machine.OnBreakElapsed());
        Assert.Null(machine.OnSuccess(probe: false));
        Assert.Equal(CircuitState.HalfOpen, machine.State);
    }

    [Fact]
    public void RepeatFailures_AreNotEvidence_TheSameFewMessagesFailingAgainNeverOpen()
    {
        var machine = Create();
        Run(machine, 0, 2);

        // Two bad messages failing again and again: still two failures of two messages in the window.
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(CircuitDecision.Allow, machine.Enter(out _));
            Assert.Null(machine.OnFailure(probe: false, breakNow: false, repeat: true, out var deferred));
            Assert.False(deferred);
        }

        Assert.Equal(CircuitState.Closed, machine.State);
        Assert.Equal((0, 2), machine.Totals);

        // Fresh failures still open it as before: the third and fourth distinct messages reach MinimumThroughput (4).
        Run(machine, 0, 2);
        Assert.Equal(CircuitState.Open, machine.State);
    }

    [Fact]
    public void RepeatFailure_OfABreakOnException_StillOpensAtOnce()
    {
        var machine = Create();
        Assert.Equal(CircuitDecision.Allow, machine.Enter(out _));
        Assert.Equal(CircuitState.Open, machine.OnFailure(probe: false, breakNow: true, repeat: true, out _)?.To);
    }

    [Fact]
    public void ProbeThatFailsAgain_IsDeferred_NextProbeDecides()
    {
        var machine = Opened();
        time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(CircuitDecision.Probe, machine.Enter(out _));
        Assert.Null(machine.OnFailure(probe: true, breakNow: false, repeat: true, out var deferred));
        Assert.True(deferred);
        Assert.Equal(CircuitState.HalfOpen, machine.State);
        Assert.Equal(1, machine.DeferredProbes);

        // The slot is free again: the next message probes; its success closes.
        Assert.Equal(CircuitDecision.Probe, machine.Enter(out _));
        Assert.Equal(CircuitState.Closed, machine.OnSuccess(probe: true)?.To);
    }

    [Fact]
    public void FreshProbeFailure_AfterDeferredOnes_Reopens()
    {
        var machine = Opened();
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(CircuitDecision.Probe, machine.Enter(out _));
        machine.OnFailure(probe: true, breakNow: false, repeat: true, out _);

        Assert.Equal(CircuitDecision.Probe, machine.Enter(out _));
        var transition = machine.OnFailure(probe: true, breakNow: false, repeat: false, out var deferred);
        Assert.False(deferred);
        Assert.Equal(CircuitState.Open, transition?.To);
        Assert.Equal(TimeSpan.FromSeconds(10), transition!.Value.BreakDuration);
    }

    [Fact]
    public void RepeatProbeFailures_BeyondTheLimit_Reopen_AndTheLimitStartsAgainAtTheNextHalfOpen()
    {
        var machine = Create(o => o.RepeatFailureProbes = 3);
        Run(machine, 0, 4);
        for (var round = 0; round < 2; round++)
        {
            time.Advance(machine.OpenUntil!.Value - time.GetUtcNow());
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(CircuitDecision.Probe, machine.Enter(out _));
                machine.OnFailure(probe: true, breakNow: false, repeat: true, out var deferred);
                Assert.True(deferred, $"round {round}, probe {i}");
            }

            // A whole queue of messages failing again looks like an outage after all.
            Assert.Equal(CircuitDecision.Probe, machine.Enter(out _));
            Assert.Equal(CircuitState.Open, machine.OnFailure(probe: true, breakNow: false, repeat: true, out var reopened)?.To);
            Assert.False(reopened);
        }
    }

    [Fact]
    public void NoRepeatFailureProbes_EveryProbeFailureReopens()
    {
        var machine = Create(o => o.RepeatFailureProbes = 0);
        Run(machine, 0, 4);
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(CircuitDecision.Probe, machine.Enter(out _));
        Assert.Equal(CircuitState.Open, machine.OnFailure(probe: true, breakNow: false, repeat: true, out _)?.To);
    }
}
