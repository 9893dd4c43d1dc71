using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Workers.Postgres.Outbox;

/// <summary>
/// Deterministic MessageIds for messages staged while consuming: a name-based UUID (RFC 9562 version 5, SHA-1)
/// of (inbound MessageId, consumer, position in the consume). A consumer that runs again for the same inbound
/// message — e.g. after a commit that was visible on the old primary but never reached the standby — stages its
/// messages with the same ids, so downstream inboxes absorb the second copy.
/// </summary>
internal static class OutboxMessageIds
{
    /// <summary>The namespace of the derived ids (a fixed random UUID; changing it changes every derived id).</summary>
    public static readonly Guid Namespace = new("6f2d9c51-7a3e-4b1f-9e0a-3c5d8b7e4a21");

    /// <summary>The id of the <paramref name="position"/>-th message (0-based) staged by <paramref name="consumer"/> for <paramref name="inboundMessageId"/>.</summary>
    public static Guid Derive(Guid inboundMessageId, string consumer, int position)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        var name = Encoding.UTF8.GetBytes($"{inboundMessageId:D}\n{consumer}\n{position.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        Span<byte> input = stackalloc byte[16 + name.Length];
        Namespace.TryWriteBytes(input[..16], bigEndian: true, out _);
        name.CopyTo(input[16..]);
        Span<byte> hash = stackalloc byte[20];
#pragma warning disable CA5350 // SHA-1 is what RFC 9562 specifies for version 5 ids; not used for security
        SHA1.HashData(input, hash);
#pragma warning restore CA5350
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50); // version 5
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80); // RFC 9562 variant
        return new Guid(hash[..16], bigEndian: true);
    }
}
