using System.Text.Json;
using System.Text.Json.Nodes;

namespace Workers.Cli.Output;

/// <summary>Writes an indented JSON array one element at a time (a long listing never holds every element).</summary>
internal sealed class JsonArrayWriter(TextWriter output)
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private bool started;

    public async Task WriteAsync(JsonNode element)
    {
        await output.WriteAsync(started ? ",\n  " : "[\n  ");
        started = true;
        await output.WriteAsync(element.ToJsonString(Indented).ReplaceLineEndings("\n  "));
    }

    public async Task CompleteAsync() => await output.WriteLineAsync(started ? "\n]" : "[]");
}
