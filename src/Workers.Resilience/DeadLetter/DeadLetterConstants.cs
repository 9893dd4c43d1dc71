namespace Workers.Resilience.DeadLetter;

/// <summary>Names and defaults of the dead-letter stage.</summary>
internal static class DeadLetterConstants
{
    /// <summary>MassTransit's suffix of an endpoint's error queue.</summary>
    public const string ErrorQueueSuffix = "_error";

    /// <summary>MassTransit's suffix of an endpoint's skipped queue (unknown message types).</summary>
    public const string SkippedQueueSuffix = "_skipped";

    /// <summary><c>Workers-Fault-Disposition</c> and metric reason of a message whose redelivery attempts are used up.</summary>
    public const string ReasonExhausted = "exhausted";

    /// <summary><c>Workers-Fault-Disposition</c> and metric reason of a message that failed permanently.</summary>
    public const string ReasonPermanent = "permanent";

    /// <summary><c>Workers-Fault-Disposition</c> and metric reason of a message whose delayed copy the broker refused (not an outage).</summary>
    public const string ReasonRedeliveryRefused = "redelivery-refused";

    /// <summary><c>Workers-Fault-Disposition</c> and metric reason of a message held too often because the broker did not take its redelivery.</summary>
    public const string ReasonBrokerUnavailable = "broker-unavailable";

    public const bool DefaultIncludeStackTrace = true;
    public const int DefaultMaxHeaderLength = 8192;
    public const int MinMaxHeaderLength = 256;
    public const int MaxMaxHeaderLength = 65536;

    public static readonly TimeSpan DefaultFallbackTimeout = TimeSpan.FromSeconds(30);
}
