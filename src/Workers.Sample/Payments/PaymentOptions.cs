using System.ComponentModel.DataAnnotations;

namespace Workers.Sample.Payments;

/// <summary>The simulated payment provider (section <c>Sample:Payment</c>): make it slow or failing by configuration.</summary>
public sealed class PaymentOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Sample:Payment";

    /// <summary>Time each charge takes, in milliseconds.</summary>
    [Range(0, 60_000)]
    public int LatencyMs { get; set; } = 5;

    /// <summary>Share of charges that fail with a transient error (0 to 1), drawn at random.</summary>
    [Range(0.0, 1.0)]
    public double FailureRate { get; set; }

    /// <summary>When true every charge fails: the provider is down.</summary>
    public bool Down { get; set; }
}
