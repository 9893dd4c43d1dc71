using Workers.Resilience.CircuitBreaker;
using Xunit;

namespace Workers.Resilience.Tests.CircuitBreaker;

public sealed class FailedBeforeTests
{
    [Theory]
    [InlineData("workers.delay.deliver", true, true)] // a redelivery or a deferred probe
    [InlineData("workers.delay.deliver", false, false)] // a bulkhead move of a message that never failed
    [InlineData("submit-order", true, false)] // a producer's header on an ordinary delivery is not believed
    [InlineData("", true, false)]
    [InlineData(null, true, false)]
    public void OnlyWhatWorkersWrote_MarksADeliveryAsFailedBefore(string? exchange, bool hasFirstFailure, bool expected)
    {
        Assert.Equal(expected, CircuitBreakerFilter.FailedBefore(exchange, hasFirstFailure));
    }
}
