using System.Collections;
using System.Globalization;
using System.Text;
using RabbitMQ.Client;

namespace Workers.Cli.Broker;

/// <summary>Turns AMQP header values (byte arrays, timestamps, numbers, lists, tables) into text.</summary>
internal static class HeaderText
{
    public static string? From(object? value) => value switch
    {
        null => null,
        byte[] bytes => Encoding.UTF8.GetString(bytes),
        string text => text,
        AmqpTimestamp timestamp => DateTimeOffset.FromUnixTimeSeconds(timestamp.UnixTime).ToString("O", CultureInfo.InvariantCulture),
        IDictionary<string, object?> table => "{" + string.Join(", ", table.Select(kv => $"{kv.Key}={From(kv.Value)}")) + "}",
        IEnumerable list => "[" + string.Join(", ", list.Cast<object?>().Select(From)) + "]",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    public static string? Get(IReadOnlyDictionary<string, object?>? headers, string name) =>
        headers is not null && headers.TryGetValue(name, out var value) ? From(value) : null;

    public static long? GetNumber(IReadOnlyDictionary<string, object?>? headers, string name) =>
        long.TryParse(Get(headers, name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) ? number : null;

    public static DateTimeOffset? GetTime(IReadOnlyDictionary<string, object?>? headers, string name)
    {
        if (headers is not null && headers.TryGetValue(name, out var raw) && raw is AmqpTimestamp timestamp)
        {
            return DateTimeOffset.FromUnixTimeSeconds(timestamp.UnixTime);
        }

        return DateTimeOffset.TryParse(Get(headers, name), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time) ? time : null;
    }
}
