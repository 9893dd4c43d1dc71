using System.Collections;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Workers.Resilience;
using Workers.Resilience.DeadLetter;

namespace Workers.Postgres.FailureStore;

/// <summary>
/// Turns one delivery of a dead-letter queue into its <see cref="FailedMessage"/> row: the facts of its fault headers
/// (ours, <c>Workers-Fault-*</c>, preferred; MassTransit's <c>MT-Fault-*</c> otherwise), every header as JSON and the
/// body byte for byte. The endpoint queue comes from the dead-letter queue's own name, never from a header. Pure.
/// </summary>
internal static class DeadLetterRecord
{
    /// <summary>The row of a delivery from <paramref name="deadLetterQueue"/>.</summary>
    /// <param name="deadLetterQueue"><c>&lt;queue&gt;_error</c> or <c>&lt;queue&gt;_skipped</c>.</param>
    /// <param name="messageId">The AMQP message-id property, if any.</param>
    /// <param name="headers">The AMQP headers (RabbitMQ.Client's representation: strings as UTF-8 bytes).</param>
    /// <param name="body">The body.</param>
    /// <param name="now">The ingestion time.</param>
    public static FailedMessage From(string deadLetterQueue, string? messageId, IDictionary<string, object?>? headers, ReadOnlyMemory<byte> body, DateTimeOffset now)
    {
        ArgumentException.ThrowIfNullOrEmpty(deadLetterQueue);
        var h = headers ?? new Dictionary<string, object?>();
        var bytes = body.ToArray();
        var exceptionType = Text(h, WorkersHeaders.FaultExceptionType);
        var stackTrace = Text(h, WorkersHeaders.FaultStackTrace);
        var consumer = ConsumerOf(h);
        var lastFailureText = Text(h, WorkersHeaders.FaultLastFailure) ?? Text(h, WorkersHeaders.FaultTimestamp);
        var lastFailure = Time(lastFailureText);
        var retries = Number(h, "MT-Fault-RetryCount") ?? 0;
        var redeliveries = Number(h, WorkersHeaders.RedeliveryCount) ?? 0;
        return new FailedMessage
        {
            Queue = EndpointOf(deadLetterQueue),
            DeadLetterQueue = deadLetterQueue,
            MessageId = Clean(messageId) ?? EnvelopeMessageId(bytes) ?? "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)),
            FailureKey = lastFailureText ?? string.Empty,
            Consumer = consumer,
            MessageType = Text(h, WorkersHeaders.FaultMessageType),
            Headers = HeadersJson(h),
            Body = bytes,
            ExceptionType = exceptionType,
            ExceptionMessage = Text(h, WorkersHeaders.FaultMessage),
            StackTrace = stackTrace,
            Attempts = (int)Math.Clamp(Number(h, WorkersHeaders.FaultAttempts) ?? (1 + retries + redeliveries), 0, int.MaxValue),
            FirstFailure = Time(Text(h, WorkersHeaders.FaultFirstFailure)) ?? Time(Text(h, WorkersHeaders.FirstFailure)) ?? lastFailure,
            LastFailure = lastFailure,
            Host = Text(h, WorkersHeaders.FaultHost) ?? Text(h, WorkersHeaders.HostMachineName),
            HostVersion = Text(h, WorkersHeaders.FaultHostVersion) ?? Text(h, WorkersHeaders.HostAssemblyVersion),
            Fingerprint = Fingerprint(deadLetterQueue, exceptionType, stackTrace, consumer),
            ReplayId = Text(h, WorkersHeaders.ReplayId),
            IngestedAt = now,
        };
    }

    /// <summary>The fingerprint of a dead letter from its headers (what the ingester stores).</summary>
    public static string FingerprintOf(string deadLetterQueue, IDictionary<string, object?> headers) =>
        Fingerprint(deadLetterQueue, Text(headers, WorkersHeaders.FaultExceptionType), Text(headers, WorkersHeaders.FaultStackTrace), ConsumerOf(headers));

    private static string? ConsumerOf(IDictionary<string, object?> headers) =>
        Text(headers, WorkersHeaders.FaultConsumer) ?? Text(headers, WorkersHeaders.FaultConsumerType);

    private static string Fingerprint(string deadLetterQueue, string? exceptionType, string? stackTrace, string? consumer) =>
        FailureFingerprint.Compute(exceptionType ?? (deadLetterQueue.EndsWith(DeadLetterConstants.SkippedQueueSuffix, StringComparison.Ordinal) ? "skipped" : null), stackTrace, consumer);

    /// <summary>The endpoint queue of a dead-letter queue (its name without <c>_error</c> / <c>_skipped</c>).</summary>
    public static string EndpointOf(string deadLetterQueue)
    {
        foreach (var suffix in (string[])[DeadLetterConstants.ErrorQueueSuffix, DeadLetterConstants.SkippedQueueSuffix])
        {
            if (deadLetterQueue.Length > suffix.Length && deadLetterQueue.EndsWith(suffix, StringComparison.Ordinal))
            {
                return deadLetterQueue[..^suffix.Length];
            }
        }

        return deadLetterQueue;
    }

    internal static string? Text(IDictionary<string, object?> headers, string key) =>
        headers.TryGetValue(key, out var value) ? Clean(value switch
        {
            null => null,
            byte[] b => Encoding.UTF8.GetString(b),
            string s => s,
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString(),
        }) : null;

    /// <summary>PostgreSQL's text and jsonb cannot hold U+0000: a producer's header with one must not stop the ingester.</summary>
    internal static string? Clean(string? text) => text?.Replace('\0', '\uFFFD');

    private static long? Number(IDictionary<string, object?> headers, string key) =>
        headers.TryGetValue(key, out var value) ? value switch
        {
            int i => i,
            long l => l,
            short s => s,
            byte b => b,
            _ => long.TryParse(Text(headers, key), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) ? parsed : null,
        } : null;

    private static DateTimeOffset? Time(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time) ? time : null;

    private static string? EnvelopeMessageId(byte[] body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("messageId", out var id) && id.ValueKind == JsonValueKind.String ? Clean(id.GetString()) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Every header as a JSON object (UTF-8 byte strings as strings, numbers as numbers, tables and arrays nested).</summary>
    internal static string HeadersJson(IDictionary<string, object?> headers)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in headers)
            {
                writer.WritePropertyName(Clean(key)!);
                WriteValue(writer, value, 0);
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteValue(Utf8JsonWriter writer, object? value, int depth)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case byte[] b:
                writer.WriteStringValue(Clean(Encoding.UTF8.GetString(b)));
                break;
            case string s:
                writer.WriteStringValue(Clean(s));
                break;
            case bool flag:
                writer.WriteBooleanValue(flag);
                break;
            case int or long or short or byte or sbyte or uint or ushort:
                writer.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                break;
            case ulong u:
                writer.WriteNumberValue(u);
                break;
            case float or double or decimal:
                writer.WriteNumberValue(Convert.ToDecimal(value, CultureInfo.InvariantCulture));
                break;
            case RabbitMQ.Client.AmqpTimestamp t:
                writer.WriteNumberValue(t.UnixTime);
                break;
            case IDictionary<string, object?> table when depth < 8:
                writer.WriteStartObject();
                foreach (var (key, inner) in table)
                {
                    writer.WritePropertyName(Clean(key)!);
                    WriteValue(writer, inner, depth + 1);
                }

                writer.WriteEndObject();
                break;
            case IEnumerable list when depth < 8:
                writer.WriteStartArray();
                foreach (var inner in list)
                {
                    WriteValue(writer, inner, depth + 1);
                }

                writer.WriteEndArray();
                break;
            default:
                writer.WriteStringValue(Clean(Convert.ToString(value, CultureInfo.InvariantCulture)));
                break;
        }
    }
}
