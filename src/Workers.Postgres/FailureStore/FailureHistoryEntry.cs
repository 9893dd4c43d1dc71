namespace Workers.Postgres.FailureStore;

/// <summary>One change of a stored failure (<c>workers_failure_history</c>): who did what, when, and with what detail.</summary>
internal sealed class FailureHistoryEntry
{
    /// <summary>Row id (identity).</summary>
    public long Id { get; set; }

    /// <summary>The failure (<see cref="FailedMessage.Id"/>).</summary>
    public long FailureId { get; set; }

    /// <summary>When it happened.</summary>
    public DateTimeOffset At { get; set; }

    /// <summary>Who did it (an operator's name, or <c>workers</c> for the framework).</summary>
    public string Actor { get; set; } = string.Empty;

    /// <summary>What was done (<c>replay-requested</c>, <c>replayed</c>, <c>resolved</c>, <c>archived</c>, <c>edited</c>, …).</summary>
    public string Action { get; set; } = string.Empty;

    /// <summary>The status after the change, one of <see cref="FailureStatus"/>.</summary>
    public string? Status { get; set; }

    /// <summary>Details as a JSON object (the reason, the replay id, an edited body's previous version, …).</summary>
    public string? Detail { get; set; }
}
