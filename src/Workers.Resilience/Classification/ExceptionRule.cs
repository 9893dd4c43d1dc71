namespace Workers.Resilience.Classification;

/// <summary>
/// A classification rule given in code: an exception of <see cref="ExceptionType"/> (or derived from it) for which
/// <see cref="When"/> holds is permanent or transient. A predicate that throws does not match: the failure then
/// falls to the other rules (and, by default, is retried — never lost).
/// </summary>
internal sealed record ExceptionRule(Type ExceptionType, Func<Exception, bool>? When, bool Permanent)
{
    public static ExceptionRule For<TException>(Func<TException, bool>? when, bool permanent)
        where TException : Exception =>
        new(typeof(TException), when is null ? null : e => when((TException)e), permanent);

    public bool Matches(Exception exception)
    {
        if (!ExceptionType.IsInstanceOfType(exception))
        {
            return false;
        }

        try
        {
            return When is null || When(exception);
        }
#pragma warning disable CA1031 // The user's predicate must not turn a failure's classification into a new failure.
        catch (Exception)
#pragma warning restore CA1031
        {
            return false;
        }
    }
}
