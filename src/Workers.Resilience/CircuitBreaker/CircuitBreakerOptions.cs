using System.ComponentModel.DataAnnotations;
using Workers.Resilience.Classification;

namespace Workers.Resilience;

/// <summary>
/// A circuit breaker that pauses a receive endpoint (or every endpoint that shares a named dependency).
/// It trips when, within <see cref="SamplingDuration"/>, at least <see cref="MinimumThroughput"/> messages were
/// handled and the share of transient failures reached <see cref="FailureRatio"/>, or at once on one of
/// <see cref="BreakOnExceptions"/>. Evidence is counted per message: a message that fails again (an immediate retry,
/// a redelivery, a message returned while the circuit was open) is not fresh evidence of an outage and does not count,
/// so a handful of bad messages cannot open the circuit by failing over and over. While open, the endpoint stops consuming: messages stay in the broker queue,
/// and in-flight messages that fail are returned to the queue (nacked with requeue) without counting an attempt.
/// Permanent failures (<see cref="FailureDisposition.DeadLetter"/>) never count.
/// </summary>
public sealed class CircuitBreakerOptions
{
    /// <summary>
    /// Name of the breaker. Endpoints configured with the same name share one breaker (a downstream dependency
    /// used by several consumers); empty means "one breaker per endpoint", named after the endpoint's queue.
    /// </summary>
    public string? Name { get; set; }

    /// <summary>Share of failed messages (0 &lt; ratio ≤ 1) in the sampling window at or above which the breaker opens.</summary>
    [Range(0.0001, 1.0)]
    public double FailureRatio { get; set; } = CircuitBreakerConstants.DefaultFailureRatio;

    /// <summary>Messages that must have been handled in the sampling window before the ratio is considered.</summary>
    [Range(1, int.MaxValue)]
    public int MinimumThroughput { get; set; } = CircuitBreakerConstants.DefaultMinimumThroughput;

    /// <summary>Length of the sliding window over which successes and failures are counted.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan SamplingDuration { get; set; } = CircuitBreakerConstants.DefaultSamplingDuration;

    /// <summary>How long the breaker stays open (endpoint paused) the first time before it lets probes through.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan BreakDuration { get; set; } = CircuitBreakerConstants.DefaultBreakDuration;

    /// <summary>Each consecutive re-opening (a failed probe) multiplies the break by this factor (1 = constant).</summary>
    [Range(1.0, 100.0)]
    public double BreakDurationFactor { get; set; } = CircuitBreakerConstants.DefaultBreakDurationFactor;

    /// <summary>Upper bound of the growing break duration.</summary>
    public TimeSpan MaxBreakDuration { get; set; } = CircuitBreakerConstants.DefaultMaxBreakDuration;

    /// <summary>
    /// Messages let through at once while half-open. The first probe that succeeds closes the breaker;
    /// the first that fails transiently opens it again. Other messages wait for the verdict.
    /// </summary>
    [Range(1, 1000)]
    public int HalfOpenProbes { get; set; } = CircuitBreakerConstants.DefaultHalfOpenProbes;

    /// <summary>
    /// While half-open, how many probes that fail <em>again</em> — messages that had failed before (a redelivery, or a
    /// message this breaker saw fail) — are deferred instead of reopening the circuit: such a failure says more about the
    /// message than about the dependency. A deferred probe goes back through the delay ladder for one
    /// <see cref="BreakDuration"/> without counting an attempt, and the next message probes. Beyond this many in one
    /// half-open period, a repeat failure reopens the circuit (an endpoint whose every message keeps failing is treated
    /// as an outage). 0 makes every probe failure reopen it.
    /// </summary>
    [Range(0, 1000)]
    public int RepeatFailureProbes { get; set; } = CircuitBreakerConstants.DefaultRepeatFailureProbes;

    /// <summary>
    /// Exception types (full or assembly-qualified names) that open the breaker at once, whatever the ratio
    /// (an exception matches when it is, derives from, or wraps one of them).
    /// </summary>
    public IList<string> BreakOnExceptions { get; } = [];

    /// <summary>Checks every setting; returns all errors, each prefixed with <paramref name="path"/>.</summary>
    /// <param name="path">The configuration path of these options, e.g. <c>Workers:Endpoints:orders:CircuitBreaker</c>.</param>
    public IReadOnlyList<string> Validate(string path = "CircuitBreaker")
    {
        var errors = new List<string>();
        if (double.IsNaN(FailureRatio) || FailureRatio <= 0 || FailureRatio > 1)
        {
            errors.Add($"{path}:{nameof(FailureRatio)} must be greater than 0 and at most 1 (was {FailureRatio}).");
        }

        if (MinimumThroughput < 1)
        {
            errors.Add($"{path}:{nameof(MinimumThroughput)} must be at least 1 (was {MinimumThroughput}).");
        }

        if (SamplingDuration < CircuitBreakerConstants.MinimumDuration)
        {
            errors.Add($"{path}:{nameof(SamplingDuration)} must be at least {CircuitBreakerConstants.MinimumDuration} (was {SamplingDuration}).");
        }

        if (BreakDuration < CircuitBreakerConstants.MinimumDuration)
        {
            errors.Add($"{path}:{nameof(BreakDuration)} must be at least {CircuitBreakerConstants.MinimumDuration} (was {BreakDuration}).");
        }

        if (MaxBreakDuration < BreakDuration)
        {
            errors.Add($"{path}:{nameof(MaxBreakDuration)} must be ≥ {nameof(BreakDuration)} (was {MaxBreakDuration} < {BreakDuration}).");
        }

        if (double.IsNaN(BreakDurationFactor) || BreakDurationFactor < 1 || BreakDurationFactor > 100)
        {
            errors.Add($"{path}:{nameof(BreakDurationFactor)} must be between 1 and 100 (was {BreakDurationFactor}).");
        }

        if (HalfOpenProbes < 1 || HalfOpenProbes > 1000)
        {
            errors.Add($"{path}:{nameof(HalfOpenProbes)} must be between 1 and 1000 (was {HalfOpenProbes}).");
        }

        if (RepeatFailureProbes < 0 || RepeatFailureProbes > 1000)
        {
            errors.Add($"{path}:{nameof(RepeatFailureProbes)} must be between 0 and 1000 (was {RepeatFailureProbes}).");
        }

        for (var i = 0; i < BreakOnExceptions.Count; i++)
        {
            try
            {
                ExceptionClassifier.Resolve(BreakOnExceptions[i]);
            }
            catch (ArgumentException ex)
            {
                errors.Add($"{path}:{nameof(BreakOnExceptions)}:{i}: {ex.Message}");
            }
        }

        return errors;
    }
}
