using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Runtime.Serialization;

namespace Workers.Resilience.Classification;

/// <summary>
/// Decides whether a failure is transient or permanent. Pure: no I/O, testable without a bus.
/// Built-in permanent failures: <see cref="PermanentFailureException"/>, <see cref="ValidationException"/>,
/// deserialization failures (<see cref="SerializationException"/> and MassTransit's, <see cref="JsonException"/>),
/// <see cref="NotSupportedException"/> and <see cref="NotImplementedException"/>.
/// Cancellation at a consumer timeout is transient. Rules with a predicate (<see cref="ExceptionClassificationOptions.Permanent{TException}"/>)
/// are checked with the configured types: transient first.
/// </summary>
internal sealed class ExceptionClassifier
{
    private static readonly Type[] BuiltInPermanent =
    [
        typeof(PermanentFailureException),
        typeof(ValidationException),
        typeof(SerializationException),
        typeof(JsonException),
        typeof(NotSupportedException),
        typeof(NotImplementedException),
    ];

    private readonly Type[] permanent;
    private readonly Type[] transient;
    private readonly ExceptionRule[] permanentRules;
    private readonly ExceptionRule[] transientRules;

    public ExceptionClassifier(ExceptionClassificationOptions? options = null)
    {
        options ??= new ExceptionClassificationOptions();
        permanent = [.. BuiltInPermanent, .. options.PermanentExceptions.Select(Resolve)];
        transient = [.. options.TransientExceptions.Select(Resolve)];
        permanentRules = [.. options.Rules.Where(r => r.Permanent)];
        transientRules = [.. options.Rules.Where(r => !r.Permanent)];
    }

    public static ExceptionClassifier Default { get; } = new();

    public FailureDisposition Classify(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        foreach (var candidate in Unwrap(exception))
        {
            var type = candidate.GetType();
            if (transient.Any(t => t.IsAssignableFrom(type)) || transientRules.Any(r => r.Matches(candidate)))
            {
                return FailureDisposition.Retry;
            }

            if (permanentRules.Any(r => r.Matches(candidate)) || permanent.Any(t => t.IsAssignableFrom(type)) || IsSerializationFailure(type))
            {
                return FailureDisposition.DeadLetter;
            }
        }

        return FailureDisposition.Retry;
    }

    /// <summary>Resolves a configured type name; throws with the name when it cannot be found.</summary>
    public static Type Resolve(string typeName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(typeName);
        var type = Type.GetType(typeName, throwOnError: false)
            ?? AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(typeName, throwOnError: false)).FirstOrDefault(t => t is not null);
        if (type is null || !typeof(Exception).IsAssignableFrom(type))
        {
            throw new ArgumentException($"'{typeName}' is not a known exception type (use the full name, or the assembly-qualified name for a type in another assembly).", nameof(typeName));
        }

        return type;
    }

    // MassTransit's own SerializationException (and its subclasses) do not derive from the BCL one.
    private static bool IsSerializationFailure(Type type)
    {
        for (var t = type; t is not null; t = t.BaseType)
        {
            if (t.Name == "SerializationException")
            {
                return true;
            }
        }

        return false;
    }

    private static IEnumerable<Exception> Unwrap(Exception exception)
    {
        var current = exception;
        for (var depth = 0; current is not null && depth < 8; depth++)
        {
            if (current is AggregateException aggregate && aggregate.InnerExceptions.Count == 1)
            {
                current = aggregate.InnerExceptions[0];
                continue;
            }

            yield return current;
            current = current.InnerException;
        }
    }
}
