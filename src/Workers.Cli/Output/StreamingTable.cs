namespace Workers.Cli.Output;

/// <summary>
/// A table written in chunks (one per batch of a long listing) without holding every row: the column widths come
/// from the header and the first chunk, and grow when a later row is wider.
/// </summary>
internal sealed class StreamingTable(TextWriter output, IReadOnlyList<string> header)
{
    private int[]? widths;

    public async Task WriteAsync(IReadOnlyList<IReadOnlyList<string>> rows)
    {
        var first = widths is null;
        widths ??= header.Select(h => h.Length).ToArray();
        foreach (var row in rows)
        {
            for (var i = 0; i < widths.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        if (first)
        {
            await WriteRowAsync(header);
        }

        foreach (var row in rows)
        {
            await WriteRowAsync(row);
        }
    }

    /// <summary>Writes the header of an empty table.</summary>
    public async Task CompleteAsync()
    {
        if (widths is null)
        {
            await WriteAsync([]);
        }
    }

    private Task WriteRowAsync(IReadOnlyList<string> row) =>
        output.WriteLineAsync(string.Join("  ", row.Select((cell, i) => i == row.Count - 1 ? cell : cell.PadRight(widths![i]))).TrimEnd());
}
