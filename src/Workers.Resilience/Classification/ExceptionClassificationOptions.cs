using Workers.Resilience.Classification;

namespace Workers.Resilience;

/// <summary>
/// Which exceptions are permanent (dead-lettered at once) and which are transient (retried).
/// An exception matches a listed type when it is that type or derives from it; the innermost
/// exception of an <see cref="AggregateException"/> or a wrapping exception is also examined.
/// Types come from configuration (<see cref="PermanentExceptions"/>, <see cref="TransientExceptions"/>); rules with a
/// predicate come from code (<see cref="Permanent{TException}"/>, <see cref="Transient{TException}"/>), e.g.
/// "an HTTP 400 is permanent". Transient rules win over permanent ones, then the built-in permanent failures apply;
/// anything else is transient.
/// </summary>
public sealed class ExceptionClassificationOptions
{
    private readonly List<ExceptionRule> rules = [];

    /// <summary>Exception types that are never retried, in addition to the built-in ones (full names or assembly-qualified names).</summary>
    public IList<string> PermanentExceptions { get; } = [];

    /// <summary>Exception types that are always retried, even when they derive from a permanent type.</summary>
    public IList<string> TransientExceptions { get; } = [];

    internal IReadOnlyList<ExceptionRule> Rules => rules;

    /// <summary>
    /// Classifies <typeparamref name="TException"/> (and derived types) as permanent — dead-lettered at once, never
    /// counted as an outage by a circuit breaker — when <paramref name="when"/> holds (always, when null). A predicate
    /// that throws does not match.
    /// </summary>
    /// <example><c>c.Permanent&lt;HttpRequestException&gt;(e =&gt; e.StatusCode == HttpStatusCode.BadRequest)</c></example>
    /// <typeparam name="TException">The exception type.</typeparam>
    /// <param name="when">Which of them; null for all.</param>
    public ExceptionClassificationOptions Permanent<TException>(Func<TException, bool>? when = null)
        where TException : Exception
    {
        rules.Add(ExceptionRule.For(when, permanent: true));
        return this;
    }

    /// <summary>
    /// Classifies <typeparamref name="TException"/> (and derived types) as transient — redelivered — when
    /// <paramref name="when"/> holds (always, when null), even when it also matches a permanent rule or type.
    /// </summary>
    /// <typeparam name="TException">The exception type.</typeparam>
    /// <param name="when">Which of them; null for all.</param>
    public ExceptionClassificationOptions Transient<TException>(Func<TException, bool>? when = null)
        where TException : Exception
    {
        rules.Add(ExceptionRule.For(when, permanent: false));
        return this;
    }

    /// <summary>A copy of these options with the rules <paramref name="configure"/> adds (these stay unchanged).</summary>
    internal ExceptionClassificationOptions With(IEnumerable<Action<ExceptionClassificationOptions>> configure)
    {
        var copy = new ExceptionClassificationOptions();
        foreach (var name in PermanentExceptions)
        {
            copy.PermanentExceptions.Add(name);
        }

        foreach (var name in TransientExceptions)
        {
            copy.TransientExceptions.Add(name);
        }

        copy.rules.AddRange(rules);
        foreach (var action in configure)
        {
            action(copy);
        }

        return copy;
    }
}
