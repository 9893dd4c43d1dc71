using System.ComponentModel.DataAnnotations;
using Workers.Resilience.Classification;
using Xunit;

namespace Workers.Resilience.Tests.Timeout;

public sealed class TimeoutOptionsTests
{
    [Fact]
    public void Defaults_AreValid()
    {
        Assert.Empty(new TimeoutOptions().Validate());
    }

    [Fact]
    public void TimeoutReachingTheBrokerConsumerTimeout_IsRefused()
    {
        var errors = new TimeoutOptions { Timeout = TimeSpan.FromMinutes(29.9), CancellationGracePeriod = TimeSpan.FromSeconds(10) }.Validate("Workers:Consumers:Orders:Timeout");
        var error = Assert.Single(errors);
        Assert.StartsWith("Workers:Consumers:Orders:Timeout:Timeout", error, StringComparison.Ordinal);
        Assert.Contains("consumer_timeout", error, StringComparison.Ordinal);
    }

    [Fact]
    public void RaisedBrokerConsumerTimeout_AllowsLongerTimeouts()
    {
        Assert.Empty(new TimeoutOptions { Timeout = TimeSpan.FromHours(1), BrokerConsumerTimeout = TimeSpan.FromHours(2) }.Validate());
    }

    [Fact]
    public void InvalidSettings_AreAllReported()
    {
        var errors = new TimeoutOptions { Timeout = TimeSpan.Zero, CancellationGracePeriod = TimeSpan.FromSeconds(-1), BrokerConsumerTimeout = TimeSpan.Zero }.Validate();
        Assert.Equal(3, errors.Count);
    }

    [Fact]
    public void ConsumerTimeoutException_IsTransient_NotARequeueSignal()
    {
        var exception = new ConsumerTimeoutException("late", new TaskCanceledException());
        Assert.Equal(FailureDisposition.Retry, ExceptionClassifier.Default.Classify(exception));
        Assert.IsNotAssignableFrom<OperationCanceledException>(exception);
    }

    [Fact]
    public void DataAnnotations_AcceptTheDefaults_AndRefuseOutOfRangeValues()
    {
        static bool Valid(object options) => Validator.TryValidateObject(options, new ValidationContext(options), [], validateAllProperties: true);

        Assert.True(Valid(new TimeoutOptions()));
        Assert.True(Valid(new BulkheadOptions()));
        Assert.True(Valid(new CircuitBreakerOptions()));
        Assert.False(Valid(new TimeoutOptions { Timeout = TimeSpan.Zero }));
        Assert.False(Valid(new BulkheadOptions { PermitLimit = 0 }));
        Assert.False(Valid(new CircuitBreakerOptions { BreakDuration = TimeSpan.FromMilliseconds(1) }));
    }
}
