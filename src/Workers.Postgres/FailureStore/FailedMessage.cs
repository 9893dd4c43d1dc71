namespace Workers.Postgres.FailureStore;

/// <summary>
/// One dead letter in the failure store (<c>workers_failures</c>): a message that a <c>&lt;queue&gt;_error</c> or
/// <c>&lt;queue&gt;_skipped</c> queue held, with the facts of its fault headers. Identified for ingestion by
/// (<see cref="Queue"/>, <see cref="DeadLetterQueue"/>, <see cref="MessageId"/>, <see cref="FailureKey"/>), so a
/// delivery ingested twice (committed, then the process died before the broker ack) stays one row.
/// </summary>
internal sealed class FailedMessage
{
    /// <summary>Row id (identity), the order of ingestion.</summary>
    public long Id { get; set; }

    /// <summary>The endpoint's queue the message failed on: the dead-letter queue's own name without its suffix (trusted, never a header).</summary>
    public string Queue { get; set; } = string.Empty;

    /// <summary>The dead-letter queue it was ingested from (<c>&lt;queue&gt;_error</c> or <c>&lt;queue&gt;_skipped</c>).</summary>
    public string DeadLetterQueue { get; set; } = string.Empty;

    /// <summary>The message id (the AMQP property, else the envelope's, else <c>sha256:</c> of the body).</summary>
    public string MessageId { get; set; } = string.Empty;

    /// <summary>Which failure of the message this is: the raw last-failure header (empty when there is none).</summary>
    public string FailureKey { get; set; } = string.Empty;

    /// <summary>The consumer that failed (fault headers), if known.</summary>
    public string? Consumer { get; set; }

    /// <summary>The message type (URN or type name), if known.</summary>
    public string? MessageType { get; set; }

    /// <summary>Every header of the dead letter, as a JSON object.</summary>
    public string Headers { get; set; } = "{}";

    /// <summary>The body, byte for byte.</summary>
    public byte[] Body { get; set; } = [];

    /// <summary>The exception's full type name.</summary>
    public string? ExceptionType { get; set; }

    /// <summary>The exception's message.</summary>
    public string? ExceptionMessage { get; set; }

    /// <summary>The exception's stack trace, when the host sent it.</summary>
    public string? StackTrace { get; set; }

    /// <summary>Attempts made in all before dead-lettering.</summary>
    public int Attempts { get; set; }

    /// <summary>When the first attempt failed.</summary>
    public DateTimeOffset? FirstFailure { get; set; }

    /// <summary>When the last attempt failed.</summary>
    public DateTimeOffset? LastFailure { get; set; }

    /// <summary>The host (machine/process) that dead-lettered it.</summary>
    public string? Host { get; set; }

    /// <summary>The version of the application that dead-lettered it.</summary>
    public string? HostVersion { get; set; }

    /// <summary>The failure group (fingerprint (<c>FailureFingerprint</c>)).</summary>
    public string Fingerprint { get; set; } = string.Empty;

    /// <summary>One of <see cref="FailureStatus"/>.</summary>
    public string Status { get; set; } = FailureStatus.Unresolved;

    /// <summary>When the status last changed (null: as ingested).</summary>
    public DateTimeOffset? StatusChangedAt { get; set; }

    /// <summary>The replay that last put the message back, when the dead letter carries one.</summary>
    public string? ReplayId { get; set; }

    /// <summary>When the row was ingested.</summary>
    public DateTimeOffset IngestedAt { get; set; }
}
