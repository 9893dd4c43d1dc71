namespace Workers.Resilience;

/// <summary>What the pipeline does with a message whose consumer failed.</summary>
public enum FailureDisposition
{
    /// <summary>Transient: try again later (immediate retries, then redelivery through the broker).</summary>
    Retry = 0,

    /// <summary>Permanent: retrying cannot help; dead-letter at once with the fault details.</summary>
    DeadLetter = 1,
}
