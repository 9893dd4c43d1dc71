namespace Workers.Cli;

/// <summary>The process exit codes of the <c>workers</c> command.</summary>
internal static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Ok = 0;

    /// <summary>The command failed (broker, database, a message that could not be moved, a canary that failed).</summary>
    public const int Failure = 1;

    /// <summary>The command line was wrong: unknown option, bad value, conflicting filters, malformed input.</summary>
    public const int Usage = 2;
}
