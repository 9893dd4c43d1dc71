using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Workers.Cli.Publish;

/// <summary>
/// Where the messages to publish come from: one JSON object (<c>--body</c>), a JSON Lines file (<c>--file</c>),
/// or standard input (one JSON object, or JSON Lines). Everything is validated before anything is published.
/// </summary>
internal abstract class MessageSource
{
    /// <summary>Number of messages (known after <see cref="ValidateAsync"/>).</summary>
    public long Count { get; protected set; }

    public abstract string Description { get; }

    /// <summary>Reads the whole input once; a malformed message is a usage error naming its line.</summary>
    public abstract Task ValidateAsync(CancellationToken cancellationToken);

    public abstract IAsyncEnumerable<JsonNode> ReadAsync(CancellationToken cancellationToken);

    public static MessageSource Create(string? body, string? file, CliConsole console)
    {
        if (body is not null && file is not null)
        {
            throw CliException.Usage("--body and --file cannot be used together.");
        }

        if (body is not null)
        {
            return new InMemorySource([body], "--body", jsonLines: false);
        }

        if (file is not null)
        {
            if (!File.Exists(file))
            {
                throw CliException.Usage($"--file '{file}' does not exist.");
            }

            return new FileSource(file);
        }

        if (!console.InputRedirected)
        {
            throw CliException.Usage("give the message with --body <json>, --file <path.jsonl>, or on standard input.");
        }

        return new StandardInputSource(console.In);
    }

    internal static JsonNode ParseMessage(string text, string where)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException exception)
        {
            throw CliException.Usage($"malformed JSON in {where}: {exception.Message.Split('\n')[0].TrimEnd()}");
        }

        return node as JsonObject ?? throw CliException.Usage($"{where} must be a JSON object (the message), not {(node is null ? "null" : node.GetValueKind().ToString().ToLowerInvariant())}.");
    }

    private sealed class InMemorySource : MessageSource
    {
        private readonly IReadOnlyList<string> lines;
        private readonly string where;
        private readonly bool jsonLines;
        private List<JsonNode>? parsed;

        public InMemorySource(IReadOnlyList<string> lines, string where, bool jsonLines)
        {
            this.lines = lines;
            this.where = where;
            this.jsonLines = jsonLines;
        }

        public override string Description => where;

        public override Task ValidateAsync(CancellationToken cancellationToken)
        {
            parsed = [];
            for (var i = 0; i < lines.Count; i++)
            {
                if (jsonLines && string.IsNullOrWhiteSpace(lines[i]))
                {
                    continue;
                }

                parsed.Add(ParseMessage(lines[i], jsonLines ? string.Create(CultureInfo.InvariantCulture, $"{where} line {i + 1}") : where));
            }

            if (parsed.Count == 0)
            {
                throw CliException.Usage($"{where} holds no message.");
            }

            Count = parsed.Count;
            return Task.CompletedTask;
        }

        public override async IAsyncEnumerable<JsonNode> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.CompletedTask;
            foreach (var node in parsed ?? throw new InvalidOperationException("Validate first."))
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return node;
            }
        }
    }

    private sealed class FileSource : MessageSource
    {
        private readonly string path;

        public FileSource(string path)
        {
            this.path = path;
        }

        public override string Description => path;

        public override async Task ValidateAsync(CancellationToken cancellationToken)
        {
            long count = 0;
            await foreach (var _ in ReadAsync(cancellationToken))
            {
                count++;
            }

            if (count == 0)
            {
                throw CliException.Usage($"--file '{path}' holds no message.");
            }

            Count = count;
        }

        public override async IAsyncEnumerable<JsonNode> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            using var reader = new StreamReader(path);
            var number = 0;
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                number++;
                if (!string.IsNullOrWhiteSpace(line))
                {
                    yield return ParseMessage(line, string.Create(CultureInfo.InvariantCulture, $"'{path}' line {number}"));
                }
            }
        }
    }

    private sealed class StandardInputSource : MessageSource
    {
        private readonly TextReader input;
        private InMemorySource? inner;

        public StandardInputSource(TextReader input)
        {
            this.input = input;
        }

        public override string Description => "standard input";

        public override async Task ValidateAsync(CancellationToken cancellationToken)
        {
            var text = await input.ReadToEndAsync(cancellationToken);
            var trimmed = text.Trim();
            var single = trimmed.Length > 0 && IsSingleDocument(trimmed);
            inner = single
                ? new InMemorySource([trimmed], "standard input", jsonLines: false)
                : new InMemorySource(text.Split('\n'), "standard input", jsonLines: true);
            await inner.ValidateAsync(cancellationToken);
            Count = inner.Count;
        }

        public override IAsyncEnumerable<JsonNode> ReadAsync(CancellationToken cancellationToken) =>
            (inner ?? throw new InvalidOperationException("Validate first.")).ReadAsync(cancellationToken);

        private static bool IsSingleDocument(string text)
        {
            try
            {
                using var _ = JsonDocument.Parse(text);
                return true;
            }
            catch (JsonException)
            {
                return false;
            }
        }
    }
}
