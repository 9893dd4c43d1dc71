using System.ComponentModel.DataAnnotations;
using Workers.Resilience.DeadLetter;

namespace Workers.Resilience;

/// <summary>
/// The dead-letter stage: a message whose redelivery attempts are used up, or which failed permanently, is moved
/// to <c>&lt;queue&gt;_error</c> (MassTransit's name) byte for byte, with the fault headers of <see cref="WorkersHeaders"/>.
/// A plain POCO: bind it from configuration.
/// </summary>
public sealed class DeadLetterOptions
{
    /// <summary>Whether the exception's stack trace is written to the fault headers. Default true.</summary>
    public bool IncludeStackTrace { get; set; } = DeadLetterConstants.DefaultIncludeStackTrace;

    /// <summary>Longest value (in characters) of a fault header; longer ones are cut (256–65536). Default 8192.</summary>
    [Range(DeadLetterConstants.MinMaxHeaderLength, DeadLetterConstants.MaxMaxHeaderLength)]
    public int MaxHeaderLength { get; set; } = DeadLetterConstants.DefaultMaxHeaderLength;

    /// <summary>How long the user fallback may run before it is abandoned and the message dead-lettered anyway (0.1 s–10 min). Default 30 s.</summary>
    public TimeSpan FallbackTimeout { get; set; } = DeadLetterConstants.DefaultFallbackTimeout;

    /// <summary>Returns every invalid setting, each prefixed with <paramref name="path"/>.</summary>
    /// <param name="path">The configuration path of these options, used in the messages.</param>
    /// <returns>The errors; empty when the options are valid.</returns>
    public IReadOnlyList<string> Validate(string path = "DeadLetter")
    {
        var errors = new List<string>();
        if (MaxHeaderLength is < DeadLetterConstants.MinMaxHeaderLength or > DeadLetterConstants.MaxMaxHeaderLength)
        {
            errors.Add($"{path}:{nameof(MaxHeaderLength)} must be between {DeadLetterConstants.MinMaxHeaderLength} and {DeadLetterConstants.MaxMaxHeaderLength} (was {MaxHeaderLength}).");
        }

        if (FallbackTimeout < TimeSpan.FromMilliseconds(100) || FallbackTimeout > TimeSpan.FromMinutes(10))
        {
            errors.Add($"{path}:{nameof(FallbackTimeout)} must be between 00:00:00.1 and 00:10:00 (was {FallbackTimeout}).");
        }

        return errors;
    }
}
