namespace Workers.Cli;

/// <summary>
/// Where a command reads and writes: the process console in production, string writers in tests.
/// Results go to <see cref="Out"/>; progress, warnings and errors go to <see cref="Error"/>.
/// </summary>
internal sealed class CliConsole
{
    private readonly List<string> secrets = [];

    public CliConsole(TextWriter output, TextWriter error, TextReader input, bool inputRedirected, bool interactive, TimeProvider? time = null)
    {
        Out = output;
        Error = error;
        In = input;
        InputRedirected = inputRedirected;
        Interactive = interactive;
        Time = time ?? TimeProvider.System;
    }

    public TextWriter Out { get; }

    public TextWriter Error { get; }

    public TextReader In { get; }

    /// <summary>Whether standard input is a pipe or file (a message source for <c>publish</c>).</summary>
    public bool InputRedirected { get; }

    /// <summary>Whether standard error is a terminal (progress bars redraw in place) or a log (progress lines).</summary>
    public bool Interactive { get; }

    public TimeProvider Time { get; }

    /// <summary>Environment lookup; tests replace it to stay independent of the process environment.</summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    public static CliConsole FromSystemConsole() =>
        new(Console.Out, Console.Error, Console.In, Console.IsInputRedirected, !Console.IsErrorRedirected);

    /// <summary>Remembers a password so that no output or error message ever shows it.</summary>
    public void RegisterSecret(string? secret)
    {
        if (!string.IsNullOrEmpty(secret) && secret.Length >= 2)
        {
            lock (secrets)
            {
                secrets.Add(secret);
            }
        }
    }

    /// <summary>The text with every registered secret replaced by <c>***</c>.</summary>
    public string Redact(string text)
    {
        lock (secrets)
        {
            foreach (var secret in secrets.OrderByDescending(s => s.Length))
            {
                text = text.Replace(secret, Secrets.Mask, StringComparison.Ordinal);
            }
        }

        return text;
    }
}
