namespace Workers.Resilience;

/// <summary>Names of the framework's telemetry, for OpenTelemetry registration (<c>AddMeter</c>, <c>AddSource</c>).</summary>
public static class WorkersTelemetry
{
    /// <summary>The name of the <c>Meter</c> and of the <c>ActivitySource</c>: <c>Workers</c>.</summary>
    public const string Name = Telemetry.WorkersDiagnostics.Name;
}
