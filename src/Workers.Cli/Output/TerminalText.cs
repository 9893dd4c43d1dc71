using System.Globalization;
using System.Text;

namespace Workers.Cli.Output;

/// <summary>
/// Neutralises terminal control sequences in text that comes from message content (headers, bodies, exception
/// messages): a dead letter is written by whoever produced it, and ESC/CSI/OSC sequences could clear the screen,
/// rewrite earlier lines or set the window title of the operator's terminal. Pure.
/// </summary>
internal static class TerminalText
{
    /// <summary>
    /// Replaces every control character (C0, DEL and C1) by its visible <c>\uXXXX</c> form; with
    /// <paramref name="keepLineBreaks"/> a line feed and a tab are kept as they are (a carriage return never is).
    /// </summary>
    public static string Neutralise(string? text, bool keepLineBreaks = false)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text ?? string.Empty;
        }

        if (!text.Any(c => IsUnsafe(c, keepLineBreaks)))
        {
            return text;
        }

        var builder = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            if (IsUnsafe(c, keepLineBreaks))
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static bool IsUnsafe(char c, bool keepLineBreaks) =>
        char.IsControl(c) && !(keepLineBreaks && c is '\n' or '\t');
}
