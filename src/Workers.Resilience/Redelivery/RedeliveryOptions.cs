using System.ComponentModel.DataAnnotations;
using Workers.Resilience.Redelivery;

namespace Workers.Resilience;

/// <summary>
/// Redelivery of a message whose consumer failed with a transient exception: the message is re-scheduled
/// IN THE BROKER (a ladder of TTL delay queues, no plugin) with delay <c>Delay × 2^(n−1)</c> (exponential),
/// capped by <see cref="MaxDelay"/>, up to <see cref="MaxRedeliveryAttempts"/> times; then it is dead-lettered.
/// A plain POCO: bind it from configuration (e.g. <c>Workers:Consumers:Orders:Redelivery</c>).
/// </summary>
public sealed class RedeliveryOptions
{
    /// <summary>How many times a message is redelivered through the broker before it is dead-lettered (0 = never). Default 5.</summary>
    [Range(0, RedeliveryConstants.MaxMaxRedeliveryAttempts)]
    public int MaxRedeliveryAttempts { get; set; } = RedeliveryConstants.DefaultMaxRedeliveryAttempts;

    /// <summary>Base delay: the delay of the first redelivery. Default 1 s. Rounded up to the delay ladder's unit (100 ms).</summary>
    public TimeSpan Delay { get; set; } = RedeliveryConstants.DefaultDelay;

    /// <summary>Upper bound of any redelivery delay (after jitter). Default 5 min; at most the ladder's maximum (about 19 days).</summary>
    public TimeSpan MaxDelay { get; set; } = RedeliveryConstants.DefaultMaxDelay;

    /// <summary>How the delay grows. Default <see cref="RedeliveryBackoffType.Exponential"/>.</summary>
    public RedeliveryBackoffType BackoffType { get; set; } = RedeliveryConstants.DefaultBackoffType;

    /// <summary>Spreads each delay uniformly over ±20 % (then capped by <see cref="MaxDelay"/>), so failed messages do not return in lockstep. Default false.</summary>
    public bool UseJitter { get; set; } = RedeliveryConstants.DefaultUseJitter;

    /// <summary>Fast in-process retries of each delivery before it is re-scheduled through the broker (0–10). Default 0.</summary>
    [Range(0, RedeliveryConstants.MaxImmediateRetries)]
    public int ImmediateRetries { get; set; } = RedeliveryConstants.DefaultImmediateRetries;

    /// <summary>Pause between immediate retries (0–5 s). Default 0.</summary>
    public TimeSpan ImmediateRetryDelay { get; set; } = RedeliveryConstants.DefaultImmediateRetryDelay;

    /// <summary>Which exceptions are permanent (dead-lettered at once) or transient (redelivered).</summary>
    public ExceptionClassificationOptions Classification { get; } = new();

    /// <summary>Returns every invalid setting, each prefixed with <paramref name="path"/> (e.g. <c>Workers:Redelivery</c>).</summary>
    /// <param name="path">The configuration path of these options, used in the messages.</param>
    /// <returns>The errors; empty when the options are valid.</returns>
    public IReadOnlyList<string> Validate(string path = "Redelivery")
    {
        var errors = new List<string>();
        if (MaxRedeliveryAttempts is < 0 or > RedeliveryConstants.MaxMaxRedeliveryAttempts)
        {
            errors.Add($"{path}:{nameof(MaxRedeliveryAttempts)} must be between 0 and {RedeliveryConstants.MaxMaxRedeliveryAttempts} (was {MaxRedeliveryAttempts}).");
        }

        if (Delay <= TimeSpan.Zero)
        {
            errors.Add($"{path}:{nameof(Delay)} must be greater than zero (was {Delay}).");
        }

        if (MaxDelay < Delay)
        {
            errors.Add($"{path}:{nameof(MaxDelay)} must be ≥ {nameof(Delay)} (was {MaxDelay} < {Delay}).");
        }

        if (MaxDelay > DelayLadder.MaxDelay)
        {
            errors.Add($"{path}:{nameof(MaxDelay)} must be ≤ {DelayLadder.MaxDelay} (the delay ladder's longest delay) (was {MaxDelay}).");
        }

        if (!Enum.IsDefined(BackoffType))
        {
            errors.Add($"{path}:{nameof(BackoffType)} must be one of {string.Join(", ", Enum.GetNames<RedeliveryBackoffType>())} (was {BackoffType}).");
        }

        if (ImmediateRetries is < 0 or > RedeliveryConstants.MaxImmediateRetries)
        {
            errors.Add($"{path}:{nameof(ImmediateRetries)} must be between 0 and {RedeliveryConstants.MaxImmediateRetries} (was {ImmediateRetries}).");
        }

        if (ImmediateRetryDelay < TimeSpan.Zero || ImmediateRetryDelay > RedeliveryConstants.MaxImmediateRetryDelay)
        {
            errors.Add($"{path}:{nameof(ImmediateRetryDelay)} must be between 0 and {RedeliveryConstants.MaxImmediateRetryDelay} (was {ImmediateRetryDelay}).");
        }

        ValidateTypes(Classification.PermanentExceptions, $"{path}:{nameof(Classification)}:{nameof(ExceptionClassificationOptions.PermanentExceptions)}", errors);
        ValidateTypes(Classification.TransientExceptions, $"{path}:{nameof(Classification)}:{nameof(ExceptionClassificationOptions.TransientExceptions)}", errors);
        return errors;
    }

    private static void ValidateTypes(IList<string> names, string path, List<string> errors)
    {
        for (var i = 0; i < names.Count; i++)
        {
            try
            {
                global::Workers.Resilience.Classification.ExceptionClassifier.Resolve(names[i]);
            }
            catch (ArgumentException ex)
            {
                errors.Add($"{path}:{i} {ex.Message.Split(" (Parameter", 2)[0]}");
            }
        }
    }
}
