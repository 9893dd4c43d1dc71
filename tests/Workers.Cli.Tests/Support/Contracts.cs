namespace Workers.Cli.Tests.Contracts;

/// <summary>A message type used by the tests.</summary>
public sealed record OrderSubmitted
{
    /// <summary>Order number.</summary>
    public int Number { get; init; }

    /// <summary>What the consumer does with it: "ok", "invalid" (InvalidOperationException), "timeout" (TimeoutException).</summary>
    public string Behaviour { get; init; } = "ok";
}

/// <summary>A second message type used by the tests.</summary>
public sealed record PaymentCaptured
{
    /// <summary>Payment number.</summary>
    public int Number { get; init; }

    /// <summary>What the consumer does with it.</summary>
    public string Behaviour { get; init; } = "ok";
}
