namespace Workers.Resilience;

/// <summary>How the delay before a redelivery grows with the redelivery number <c>n</c> (1-based).</summary>
public enum RedeliveryBackoffType
{
    /// <summary>Always <c>Delay</c>.</summary>
    Constant = 0,

    /// <summary><c>Delay × n</c>.</summary>
    Linear = 1,

    /// <summary><c>Delay × 2^(n−1)</c>.</summary>
    Exponential = 2,
}
