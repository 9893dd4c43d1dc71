using System.Diagnostics;

namespace Workers.Benchmarks;

/// <summary>
/// The one message every contender carries: small (about 120 bytes of JSON), with a send timestamp for the
/// latency workload and a flag that makes the consumer fail its first attempt in the failure workload.
/// </summary>
public sealed class BenchMessage
{
    /// <summary>0-based sequence number within a workload.</summary>
    public long Id { get; set; }

    /// <summary><see cref="Stopwatch.GetTimestamp"/> of the intended send time (same process).</summary>
    public long SentTimestamp { get; set; }

    /// <summary>The consumer throws on the first delivery of this message.</summary>
    public bool FailOnce { get; set; }

    /// <summary>A small payload so the body is not trivially empty.</summary>
    public string Payload { get; set; } = string.Empty;

    /// <summary>The shared payload text (64 characters).</summary>
    public const string DefaultPayload = "order-0000000000-customer-0000000000-amount-0000000000-eur-00000";

    public static BenchMessage Create(long id, bool failures = false, long? sentTimestamp = null) => new()
    {
        Id = id,
        SentTimestamp = sentTimestamp ?? Stopwatch.GetTimestamp(),
        FailOnce = failures && id % 10 == 0,
        Payload = DefaultPayload,
    };
}

/// <summary>What a failing consumer throws on a message's first attempt (a transient failure).</summary>
public sealed class BenchFailureException : Exception
{
    public BenchFailureException()
        : base("Simulated transient failure (first attempt).")
    {
    }

    public BenchFailureException(string message)
        : base(message)
    {
    }

    public BenchFailureException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
