using System.Globalization;

namespace Workers.FaultTests;

/// <summary>
/// Size of the run. The CI default is short; set <c>WORKERS_FAULT_SOAK_SECONDS</c> (soak duration) and
/// <c>WORKERS_FAULT_REPEATS</c> (broker kills, replay kills) for the long version.
/// </summary>
public static class FaultSettings
{
    /// <summary>Soak duration (default 45 s).</summary>
    public static TimeSpan SoakDuration { get; } = TimeSpan.FromSeconds(Read("WORKERS_FAULT_SOAK_SECONDS", 45));

    /// <summary>How many times repeated faults repeat (default 3).</summary>
    public static int Repeats { get; } = (int)Read("WORKERS_FAULT_REPEATS", 3);

    /// <summary>Steady load of the scenarios, messages per second (default 150).</summary>
    public static int Rate { get; } = (int)Read("WORKERS_FAULT_RATE", 150);

    private static double Read(string name, double fallback) =>
        double.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;
}
