using Workers.Resilience.CircuitBreaker;
using Xunit;

namespace Workers.Resilience.Tests.CircuitBreaker;

public sealed class FailureMemoryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void RemembersAFailedId_ForTheRetention_ThenForgetsIt()
    {
        var memory = new FailureMemory(10, TimeSpan.FromMinutes(1));
        memory.Remember("a", T0);

        Assert.True(memory.Contains("a", T0.AddSeconds(59)));
        Assert.False(memory.Contains("b", T0));
        Assert.False(memory.Contains(null, T0));
        Assert.False(memory.Contains("a", T0.AddMinutes(1)));
    }

    [Fact]
    public void AFailureAgain_ExtendsTheRetention()
    {
        var memory = new FailureMemory(10, TimeSpan.FromMinutes(1));
        memory.Remember("a", T0);
        memory.Remember("a", T0.AddSeconds(50));
        memory.Remember("b", T0.AddSeconds(70));

        Assert.True(memory.Contains("a", T0.AddSeconds(100)));
        Assert.Equal(2, memory.Count);
    }

    [Fact]
    public void BeyondItsCapacity_ForgetsTheOldest()
    {
        var memory = new FailureMemory(3, TimeSpan.FromHours(1));
        for (var i = 0; i < 5; i++)
        {
            memory.Remember($"m{i}", T0.AddSeconds(i));
        }

        Assert.Equal(3, memory.Count);
        Assert.False(memory.Contains("m1", T0.AddSeconds(5)));
        Assert.True(memory.Contains("m2", T0.AddSeconds(5)));
        Assert.True(memory.Contains("m4", T0.AddSeconds(5)));
    }

    [Fact]
    public void OneIdFailingOverAndOver_StaysBounded()
    {
        var memory = new FailureMemory(2, TimeSpan.FromHours(1));
        for (var i = 0; i < 1000; i++)
        {
            memory.Remember("same", T0.AddMilliseconds(i));
        }

        Assert.Equal(1, memory.Count);
        Assert.True(memory.Contains("same", T0.AddSeconds(2)));
    }
}
