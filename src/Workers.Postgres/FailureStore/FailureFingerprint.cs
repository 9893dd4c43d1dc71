using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Workers.Postgres.FailureStore;

/// <summary>
/// The failure group of a dead letter: exception type + the normalised top frames of the application's own code +
/// consumer, hashed. Frames are normalised so that a rebuild or a redeploy keeps the group: file paths and line
/// numbers, parameter lists, generic arity (<c>`1</c>) and arguments (<c>[T]</c>), compiler-generated async state
/// machines (<c>&lt;Consume&gt;d__4.MoveNext</c>) and lambda ordinals (<c>&lt;Consume&gt;b__0_1</c>) are removed;
/// frames of MassTransit, the runtime (<c>System</c>, <c>Microsoft</c>) and the Workers framework itself are skipped,
/// so the group names where the application failed, not the pipeline that carried the exception. Pure.
/// </summary>
internal static partial class FailureFingerprint
{
    /// <summary>How many application frames take part (the top ones: where it failed and who called it).</summary>
    public const int FrameCount = 3;

    /// <summary>Namespaces whose frames are the framework's, not the application's.</summary>
    private static readonly string[] FrameworkPrefixes =
    [
        "System.", "Microsoft.", "MassTransit.", "RabbitMQ.", "Npgsql.", "Polly.",
        "Workers.Resilience.", "Workers.Postgres.", "Workers.Hosting.", "Workers.Exporters.",
    ];

    /// <summary>The fingerprint (16 hex digits) of a failure.</summary>
    /// <param name="exceptionType">The exception's full type name (MT-Fault-ExceptionType), or null.</param>
    /// <param name="stackTrace">The stack trace (MT-Fault-StackTrace), or null when the host did not send one.</param>
    /// <param name="consumer">The consumer that failed, or null.</param>
    /// <returns>Lower-case hex, stable across processes and versions of this code.</returns>
    public static string Compute(string? exceptionType, string? stackTrace, string? consumer)
    {
        var text = new StringBuilder()
            .Append(NormaliseType(exceptionType ?? "?")).Append('\n')
            .Append(NormaliseType(consumer ?? "?"));
        foreach (var frame in ApplicationFrames(stackTrace))
        {
            text.Append('\n').Append(frame);
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()), hash);
        return Convert.ToHexStringLower(hash[..8]);
    }

    /// <summary>The top <see cref="FrameCount"/> frames of the application's own code, normalised (<c>Namespace.Type.Method</c>).</summary>
    /// <param name="stackTrace">A .NET stack trace, or null.</param>
    /// <returns>The frames, top first; empty when the trace has none of the application's.</returns>
    public static IReadOnlyList<string> ApplicationFrames(string? stackTrace)
    {
        var frames = new List<string>(FrameCount);
        if (string.IsNullOrEmpty(stackTrace))
        {
            return frames;
        }

        foreach (var rawLine in stackTrace.AsSpan().EnumerateLines())
        {
            var line = rawLine.Trim();
            if (!line.StartsWith("at ", StringComparison.Ordinal))
            {
                continue; // "--- End of stack trace from previous location ---", inner exception markers
            }

            var frame = NormaliseFrame(line[3..].ToString());
            if (frame.Length == 0 || IsFramework(frame) || (frames.Count > 0 && frames[^1] == frame))
            {
                continue;
            }

            frames.Add(frame);
            if (frames.Count == FrameCount)
            {
                break;
            }
        }

        return frames;
    }

    /// <summary>One frame as <c>Namespace.Type.Method</c>, with the noise a rebuild changes removed.</summary>
    internal static string NormaliseFrame(string frame)
    {
        var text = frame;
        var inFile = text.IndexOf(" in ", StringComparison.Ordinal);
        if (inFile >= 0)
        {
            text = text[..inFile];
        }

        var parameters = text.IndexOf('(', StringComparison.Ordinal);
        if (parameters >= 0)
        {
            text = text[..parameters];
        }

        // Namespace.Type.<Method>d__4.MoveNext → Namespace.Type.Method
        text = StateMachine().Replace(text, "${method}");
        // Namespace.Type.<>c.<Method>b__0_1, <Method>g__Local|2_0 → Namespace.Type.Method
        text = DisplayClass().Replace(text, ".");
        text = Lambda().Replace(text, "${method}");
        return NormaliseType(text.Trim());
    }

    /// <summary>A type or member name without generic arity (<c>`1</c>) or generic arguments (<c>[T]</c>, <c>&lt;T&gt;</c> suffixes).</summary>
    internal static string NormaliseType(string name) =>
        GenericArguments().Replace(GenericArity().Replace(name, string.Empty), string.Empty).Replace("+", ".", StringComparison.Ordinal);

    private static bool IsFramework(string frame)
    {
        foreach (var prefix in FrameworkPrefixes)
        {
            if (frame.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    [GeneratedRegex(@"<(?<method>[^>]+)>d__\d+\.MoveNext$", RegexOptions.CultureInvariant)]
    private static partial Regex StateMachine();

    [GeneratedRegex(@"\.<>c(__DisplayClass[\d_]+)?\.", RegexOptions.CultureInvariant)]
    private static partial Regex DisplayClass();

    [GeneratedRegex(@"<(?<method>[^>]+)>[bg]__[^.]*$", RegexOptions.CultureInvariant)]
    private static partial Regex Lambda();

    [GeneratedRegex(@"`\d+", RegexOptions.CultureInvariant)]
    private static partial Regex GenericArity();

    [GeneratedRegex(@"\[[^\[\]]*\]", RegexOptions.CultureInvariant)]
    private static partial Regex GenericArguments();
}
