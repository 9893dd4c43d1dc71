using System.Text;
using System.Text.RegularExpressions;

namespace Workers.Cli.Tests.Docs;

/// <summary>Where a documented command was found.</summary>
internal enum CommandSource
{
    /// <summary>A fenced block marked sh, bash, shell, console or zsh: every line is a command.</summary>
    ShellBlock,

    /// <summary>A fenced block without a language, or an indented code block: lines that start with a known program.</summary>
    PlainBlock,

    /// <summary>An inline code span in prose that starts with a known program.</summary>
    Inline,
}

/// <summary>
/// One command a reader is told to type: its file (relative to the repository, '/' separators), 1-based line, text
/// (continuations joined, trailing comment and prompt removed) and the directory it is typed in (relative to the
/// repository; changed by a preceding <c>cd</c> of the same block).
/// </summary>
internal sealed record DocumentedCommand(string File, int Line, string Text, CommandSource Source, string Directory)
{
    public string Location => $"{File}:{Line}";

    /// <summary>A synopsis (<c>[--flag N]</c>, <c>a|b</c>, <c>(x | y)</c>) rather than a command to run as written.</summary>
    public bool IsSynopsis => Source != CommandSource.ShellBlock && MarkdownCommands.LooksLikeSynopsis(Text);

    public override string ToString() => $"{Location}: {Text}";
}

/// <summary>
/// Finds the commands in the repository's Markdown: fenced shell blocks, plain and indented code blocks, and inline
/// code spans that start with a program a reader would run. The scan covers the root README and every Markdown file
/// under compose/, src/ and docs/ (new files are picked up), except the changelog.
/// </summary>
internal static partial class MarkdownCommands
{
    /// <summary>Programs that make a plain-block line or an inline span a command.</summary>
    public static readonly IReadOnlySet<string> Programs = new HashSet<string>(StringComparer.Ordinal)
    {
        "workers", "dotnet", "docker", "docker-compose", "kubectl", "kustomize", "helm", "cp", "mv", "rm", "cd", "curl",
        "wget", "git", "perf", "openssl", "psql", "rabbitmqctl", "rabbitmq-diagnostics", "rabbitmq-queues",
        "rabbitmq-plugins", "pg_ctl", "pg_isready", "pg_basebackup", "pg_autoctl", "apt-get", "apt", "sudo", "eval",
        "export", "bash", "sh", "source", "make", "echo", "kill", "systemctl", "nc", "ss",
    };

    private static readonly string[] ScannedFolders = ["compose", "src", "docs"];

    private static readonly HashSet<string> ShellLanguages = new(StringComparer.OrdinalIgnoreCase) { "sh", "bash", "shell", "console", "zsh" };

    private static readonly HashSet<string> PlainLanguages = new(StringComparer.OrdinalIgnoreCase) { string.Empty, "text", "txt" };

    /// <summary>The Markdown files the scan covers, relative to <paramref name="root"/> with '/' separators.</summary>
    public static IReadOnlyList<string> FindFiles(string root)
    {
        var files = new List<string>();
        if (File.Exists(Path.Combine(root, "README.md")))
        {
            files.Add("README.md");
        }

        foreach (var folder in ScannedFolders)
        {
            var path = Path.Combine(root, folder);
            if (!System.IO.Directory.Exists(path))
            {
                continue;
            }

            files.AddRange(System.IO.Directory.EnumerateFiles(path, "*.md", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
                .Where(f => !f.Split('/').Any(part => part is "bin" or "obj" or "node_modules" or "TestResults"))
                .Where(f => !Path.GetFileName(f).Equals("CHANGELOG.md", StringComparison.OrdinalIgnoreCase)));
        }

        return files.OrderBy(f => f, StringComparer.Ordinal).ToList();
    }

    /// <summary>Every command of every scanned file.</summary>
    public static IReadOnlyList<DocumentedCommand> FindAll(string root) =>
        FindFiles(root).SelectMany(file => Parse(file, File.ReadAllText(Path.Combine(root, file)), BaseDirectoryOf(file))).ToList();

    /// <summary>
    /// The directory a file's commands are typed in: the repository root, except a template's own files, whose
    /// commands run in the project the template makes (its content folder).
    /// </summary>
    public static string BaseDirectoryOf(string file)
    {
        var match = TemplateContent().Match(file);
        return match.Success ? match.Groups["dir"].Value : string.Empty;
    }

    /// <summary>The commands of one Markdown text.</summary>
    public static IReadOnlyList<DocumentedCommand> Parse(string file, string text, string baseDirectory = "")
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var commands = new List<DocumentedCommand>();
        string? fence = null;
        string? language = null;
        var directory = baseDirectory;
        var previousBlank = true;
        var inIndented = false;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var fenceMatch = Fence().Match(line);
            if (fence is null && fenceMatch.Success)
            {
                fence = fenceMatch.Groups["fence"].Value;
                language = fenceMatch.Groups["info"].Value.Trim().Split(' ', 2)[0];
                directory = baseDirectory;
                continue;
            }

            if (fence is not null)
            {
                if (line.TrimStart().StartsWith(fence, StringComparison.Ordinal) && line.Trim().Trim(fence[0]).Length == 0)
                {
                    fence = null;
                    previousBlank = false;
                    continue;
                }

                if (ShellLanguages.Contains(language!))
                {
                    i = ReadShellLine(file, lines, i, language!, ref directory, commands);
                }
                else if (PlainLanguages.Contains(language!))
                {
                    i = ReadPlainLine(file, lines, i, ref directory, commands);
                }

                continue;
            }

            var indented = line.StartsWith("    ", StringComparison.Ordinal) && line.Trim().Length > 0;
            if (indented && (previousBlank || inIndented) && !IsListContinuation(lines, i))
            {
                if (!inIndented)
                {
                    directory = baseDirectory;
                }

                inIndented = true;
                i = ReadPlainLine(file, lines, i, ref directory, commands);
                previousBlank = false;
                continue;
            }

            inIndented = false;
            previousBlank = line.Trim().Length == 0;
            foreach (Match span in InlineCode().Matches(line))
            {
                var code = span.Groups["code"].Value.Trim();
                if (IsInlineCommand(code))
                {
                    foreach (var part in SplitAndAnd(code))
                    {
                        commands.Add(new DocumentedCommand(file, i + 1, part, CommandSource.Inline, baseDirectory));
                    }
                }
            }
        }

        return commands;
    }

    /// <summary>True for text with synopsis notation outside quotes: brackets, alternatives, groups.</summary>
    public static bool LooksLikeSynopsis(string text)
    {
        var unquoted = Quoted().Replace(text, string.Empty).Replace("||", string.Empty, StringComparison.Ordinal).Replace("&&", string.Empty, StringComparison.Ordinal);
        return unquoted.Contains('[', StringComparison.Ordinal) || unquoted.Contains('|', StringComparison.Ordinal) || unquoted.Contains('(', StringComparison.Ordinal);
    }

    /// <summary>The program of a command: its first word after any VAR=value assignments.</summary>
    public static string ProgramOf(string text) =>
        ShellWords.Split(text).SkipWhile(w => Assignment().IsMatch(w)).FirstOrDefault() ?? string.Empty;

    /// <summary>Splits <c>a &amp;&amp; b</c> (outside quotes) into its commands.</summary>
    public static IEnumerable<string> SplitAndAnd(string text)
    {
        var current = new StringBuilder();
        char? quote = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote is null && c is '\'' or '"')
            {
                quote = c;
            }
            else if (quote == c)
            {
                quote = null;
            }

            if (quote is null && c == '&' && i + 1 < text.Length && text[i + 1] == '&')
            {
                yield return current.ToString().Trim();
                current.Clear();
                i++;
                continue;
            }

            current.Append(c);
        }

        if (current.ToString().Trim().Length > 0)
        {
            yield return current.ToString().Trim();
        }
    }

    private static bool IsInlineCommand(string code)
    {
        if (IsScriptPath(code))
        {
            return true;
        }

        var words = ShellWords.Split(code);
        var program = words.SkipWhile(w => Assignment().IsMatch(w)).FirstOrDefault();
        if (program is null || !Programs.Contains(program))
        {
            return false;
        }

        // A program's bare name (`workers`, `rabbitmqctl`) names it; it is not a command to type.
        return words.Count > 1;
    }

    private static int ReadShellLine(string file, string[] lines, int i, string language, ref string directory, List<DocumentedCommand> commands)
    {
        var first = i;
        var text = lines[i].Trim();
        if (language.Equals("console", StringComparison.OrdinalIgnoreCase))
        {
            if (!text.StartsWith("$ ", StringComparison.Ordinal))
            {
                return i; // output
            }

            text = text[2..];
        }

        while (text.EndsWith('\\') && i + 1 < lines.Length)
        {
            text = text[..^1].TrimEnd() + " " + lines[++i].Trim();
        }

        text = ShellWords.StripComment(text).Trim();
        if (text.Length > 0)
        {
            Add(file, first + 1, text, CommandSource.ShellBlock, ref directory, commands);
        }

        return i;
    }

    private static int ReadPlainLine(string file, string[] lines, int i, ref string directory, List<DocumentedCommand> commands)
    {
        var first = i;
        var text = lines[i].Trim();
        if (text.Length == 0 || text.StartsWith('#') || !IsCommandLine(text))
        {
            return i;
        }

        // A synopsis continues on indented lines that do not start a command of their own.
        while (i + 1 < lines.Length && lines[i + 1].StartsWith("  ", StringComparison.Ordinal) && lines[i + 1].Trim().Length > 0
               && !IsCommandLine(lines[i + 1].Trim()) && !Fence().IsMatch(lines[i + 1]))
        {
            text += " " + lines[++i].Trim();
        }

        while (text.EndsWith('\\') && i + 1 < lines.Length)
        {
            text = text[..^1].TrimEnd() + " " + lines[++i].Trim();
        }

        Add(file, first + 1, ShellWords.StripComment(text).Trim(), CommandSource.PlainBlock, ref directory, commands);
        return i;
    }

    private static bool IsCommandLine(string text) =>
        IsScriptPath(text) || Programs.Contains(ProgramOf(text));

    // `scripts/test.sh`, `.ci/run`, `./x`: a path to run (not `scripts/` alone, a folder in a layout listing).
    private static bool IsScriptPath(string text) => ScriptPath().IsMatch(text);

    private static void Add(string file, int line, string text, CommandSource source, ref string directory, List<DocumentedCommand> commands)
    {
        foreach (var part in SplitAndAnd(text))
        {
            commands.Add(new DocumentedCommand(file, line, part, source, directory));
            var words = ShellWords.Split(part);
            if (words is ["cd", var target])
            {
                directory = CombineRelative(directory, target);
            }
        }
    }

    internal static string CombineRelative(string directory, string target)
    {
        var parts = new List<string>(directory.Split('/', StringSplitOptions.RemoveEmptyEntries));
        foreach (var part in target.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }
            }
            else if (part != ".")
            {
                parts.Add(part);
            }
        }

        return string.Join('/', parts);
    }

    // A line indented by four inside a list item continues the item; it is not a code block.
    private static bool IsListContinuation(string[] lines, int i)
    {
        for (var j = i - 1; j >= 0; j--)
        {
            var previous = lines[j];
            if (previous.Trim().Length == 0)
            {
                continue;
            }

            return ListItem().IsMatch(previous) || (previous.StartsWith("  ", StringComparison.Ordinal) && !previous.StartsWith("    ", StringComparison.Ordinal));
        }

        return false;
    }

    [GeneratedRegex(@"^(scripts/|\.ci/|\./)[^\s/]")]
    private static partial Regex ScriptPath();

    [GeneratedRegex(@"^\s*(?<fence>```+|~~~+)(?<info>.*)$")]
    private static partial Regex Fence();

    [GeneratedRegex(@"(?<!`)`(?<code>[^`]+)`(?!`)")]
    private static partial Regex InlineCode();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*=")]
    private static partial Regex Assignment();

    [GeneratedRegex(@"'[^']*'|""[^""]*""")]
    private static partial Regex Quoted();

    [GeneratedRegex(@"^\s*([-*+]|\d+\.)\s")]
    private static partial Regex ListItem();

    [GeneratedRegex(@"^(?<dir>src/Workers\.Templates/content/[^/]+)/")]
    private static partial Regex TemplateContent();
}

/// <summary>Shell-like word splitting: whitespace separates, single and double quotes group (and are removed).</summary>
internal static class ShellWords
{
    public static IReadOnlyList<string> Split(string text)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        var inWord = false;
        char? quote = null;
        foreach (var c in text)
        {
            if (quote is not null)
            {
                if (c == quote)
                {
                    quote = null;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else
            {
                current.Append(c);
                inWord = true;
            }
        }

        if (inWord)
        {
            words.Add(current.ToString());
        }

        return words;
    }

    /// <summary>Removes a trailing <c># comment</c> (a '#' after whitespace, outside quotes).</summary>
    public static string StripComment(string text)
    {
        char? quote = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote is null && c is '\'' or '"')
            {
                quote = c;
            }
            else if (quote == c)
            {
                quote = null;
            }
            else if (quote is null && c == '#' && (i == 0 || char.IsWhiteSpace(text[i - 1])))
            {
                return text[..i].TrimEnd();
            }
        }

        return text;
    }
}
