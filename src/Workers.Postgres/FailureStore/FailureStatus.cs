namespace Workers.Postgres;

/// <summary>The states of a failure in the store (the <c>status</c> column of <c>workers_failures</c>).</summary>
public static class FailureStatus
{
    /// <summary>Ingested, nobody acted on it yet (the only state retention never deletes unless configured to).</summary>
    public const string Unresolved = "unresolved";

    /// <summary>Selected by a replay that has not finished with it.</summary>
    public const string Replaying = "replaying";

    /// <summary>Replayed (or otherwise settled) successfully.</summary>
    public const string Resolved = "resolved";

    /// <summary>Set aside by an operator, with the reason in its history; never a silent delete.</summary>
    public const string Archived = "archived";

    /// <summary>Every state, in lifecycle order.</summary>
    public static IReadOnlyList<string> All { get; } = [Unresolved, Replaying, Resolved, Archived];
}
