using Xunit;

namespace Workers.Resilience.Tests.CircuitBreaker;

public sealed class CircuitBreakerOptionsTests
{
    [Fact]
    public void Defaults_AreValid()
    {
        Assert.Empty(new CircuitBreakerOptions().Validate());
    }

    [Fact]
    public void InvalidSettings_AreAllReportedWithTheirPath()
    {
        var options = new CircuitBreakerOptions
        {
            FailureRatio = 0,
            MinimumThroughput = 0,
            SamplingDuration = TimeSpan.Zero,
            BreakDuration = TimeSpan.FromMinutes(10),
            MaxBreakDuration = TimeSpan.FromMinutes(1),
            BreakDurationFactor = 0.5,
            HalfOpenProbes = 0,
            RepeatFailureProbes = -1,
        };
        options.BreakOnExceptions.Add("No.Such.Exception");

        var errors = options.Validate("Workers:Endpoints:orders:CircuitBreaker");

        Assert.Equal(8, errors.Count);
        Assert.All(errors, e => Assert.StartsWith("Workers:Endpoints:orders:CircuitBreaker:", e, StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("MaxBreakDuration", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("BreakOnExceptions:0", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("RepeatFailureProbes must be between 0 and 1000 (was -1)", StringComparison.Ordinal));
    }
}
