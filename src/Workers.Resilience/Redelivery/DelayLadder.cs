using System.Text;

namespace Workers.Resilience.Redelivery;

/// <summary>
/// The binary delay ladder: the names of its exchanges and queues and the routing key of a delay. Pure.
/// <para>
/// Level L (0 ≤ L &lt; <see cref="Levels"/>) is a topic exchange <c>workers.delay.L{L}</c> and a quorum queue of the same name
/// whose every message lives <c>Unit × 2^L</c> (x-message-ttl), then is dead-lettered (at-least-once) to the exchange of level L−1,
/// or, from level 0, to the delivery exchange <see cref="DeliveryExchange"/> (headers exchange; each destination queue is bound
/// with <c>x-match=all, Workers-Destination=&lt;queue&gt;</c>).
/// The routing key is the delay in units, in binary, one word per level, level 0 first (e.g. 5 units = <c>1.0.1.0…</c>).
/// Exchange L sends a message to its queue when word L is 1, otherwise on to exchange L−1 (exchange-to-exchange binding).
/// Every message in a level queue has the same TTL, so no message ever waits behind a longer one.
/// </para>
/// </summary>
internal static class DelayLadder
{
    /// <summary>Number of levels: delays up to Unit × (2^Levels − 1).</summary>
    public const int Levels = 24;

    /// <summary>Prefix of every name of the ladder.</summary>
    public const string Prefix = "workers.delay";

    /// <summary>The headers exchange that hands a message back to its destination queue.</summary>
    public const string DeliveryExchange = Prefix + ".deliver";

    /// <summary>The smallest step of the ladder; delays are rounded up to a multiple of it.</summary>
    public static readonly TimeSpan Unit = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest delay the ladder can hold (about 19.4 days).</summary>
    public static readonly TimeSpan MaxDelay = Unit * ((1L << Levels) - 1);

    /// <summary>Name of the exchange and of the queue of a level.</summary>
    public static string LevelName(int level) => $"{Prefix}.L{level:00}";

    /// <summary>TTL of the queue of a level.</summary>
    public static TimeSpan LevelTtl(int level) => Unit * (1L << level);

    /// <summary>Where the queue of a level dead-letters to.</summary>
    public static string NextExchange(int level) => level == 0 ? DeliveryExchange : LevelName(level - 1);

    /// <summary>The topic binding pattern that selects messages whose bit <paramref name="level"/> is <paramref name="bit"/>.</summary>
    public static string BindingPattern(int level, bool bit)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < level; i++)
        {
            builder.Append("*.");
        }

        builder.Append(bit ? '1' : '0');
        if (level < Levels - 1)
        {
            builder.Append(".#");
        }

        return builder.ToString();
    }

    /// <summary>The delay in ladder units: rounded up, at least 1, at most 2^Levels − 1.</summary>
    public static long ToUnits(TimeSpan delay)
    {
        var units = (delay.Ticks + Unit.Ticks - 1) / Unit.Ticks;
        return Math.Clamp(units, 1, (1L << Levels) - 1);
    }

    /// <summary>The delay the ladder really applies to a requested delay.</summary>
    public static TimeSpan Effective(TimeSpan delay) => Unit * ToUnits(delay);

    /// <summary>The routing key of a delay: one word per level, level 0 first.</summary>
    public static string RoutingKey(TimeSpan delay)
    {
        var units = ToUnits(delay);
        var builder = new StringBuilder((Levels * 2) - 1);
        for (var level = 0; level < Levels; level++)
        {
            if (level > 0)
            {
                builder.Append('.');
            }

            builder.Append(((units >> level) & 1) == 1 ? '1' : '0');
        }

        return builder.ToString();
    }

    /// <summary>The exchange to publish a delayed message to: the level of its highest set bit.</summary>
    public static string EntryExchange(TimeSpan delay)
    {
        var units = ToUnits(delay);
        var top = 63 - long.LeadingZeroCount(units);
        return LevelName((int)top);
    }
}
