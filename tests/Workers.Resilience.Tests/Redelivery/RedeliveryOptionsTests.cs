using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Workers.Resilience.Tests.Redelivery;

public class RedeliveryOptionsTests
{
    [Fact]
    public void Defaults_AreValid()
    {
        Assert.Empty(new RedeliveryOptions().Validate());
        Assert.Empty(new DeadLetterOptions().Validate());
    }

    [Fact]
    public void Defaults_MatchTheDocumentedValues()
    {
        var options = new RedeliveryOptions();

        Assert.Equal(5, options.MaxRedeliveryAttempts);
        Assert.Equal(TimeSpan.FromSeconds(1), options.Delay);
        Assert.Equal(TimeSpan.FromMinutes(5), options.MaxDelay);
        Assert.Equal(RedeliveryBackoffType.Exponential, options.BackoffType);
        Assert.False(options.UseJitter);
        Assert.Equal(0, options.ImmediateRetries);
        Assert.Equal(TimeSpan.Zero, options.ImmediateRetryDelay);
    }

    [Fact]
    public void EveryInvalidOption_IsNamedWithItsPath_AllAtOnce()
    {
        var options = new RedeliveryOptions
        {
            MaxRedeliveryAttempts = -1,
            Delay = TimeSpan.Zero,
            MaxDelay = TimeSpan.FromDays(30),
            BackoffType = (RedeliveryBackoffType)42,
            ImmediateRetries = 11,
            ImmediateRetryDelay = TimeSpan.FromSeconds(-1),
        };
        options.Classification.PermanentExceptions.Add("No.Such.Exception");
        options.Classification.TransientExceptions.Add("System.String");

        var errors = options.Validate("Workers:Consumers:Orders:Redelivery");

        Assert.Equal(8, errors.Count);
        Assert.All(errors, e => Assert.StartsWith("Workers:Consumers:Orders:Redelivery:", e, StringComparison.Ordinal));
        foreach (var name in new[] { "MaxRedeliveryAttempts", "Delay ", "MaxDelay", "BackoffType", "ImmediateRetries ", "ImmediateRetryDelay", "Classification:PermanentExceptions:0", "Classification:TransientExceptions:0" })
        {
            Assert.Contains(errors, e => e.Contains(":" + name, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void MaxDelayBelowDelay_IsNamed()
    {
        var options = new RedeliveryOptions { Delay = TimeSpan.FromSeconds(10), MaxDelay = TimeSpan.FromSeconds(5) };

        var error = Assert.Single(options.Validate());

        Assert.Contains("Redelivery:MaxDelay must be ≥ Delay", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TooManyRedeliveries_IsNamed()
    {
        var error = Assert.Single(new RedeliveryOptions { MaxRedeliveryAttempts = 101 }.Validate());

        Assert.Contains("MaxRedeliveryAttempts", error, StringComparison.Ordinal);
    }

    [Fact]
    public void DeadLetterOptions_EveryInvalidOption_IsNamed()
    {
        var errors = new DeadLetterOptions { MaxHeaderLength = 10, FallbackTimeout = TimeSpan.Zero }.Validate("Workers:DeadLetter");

        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Workers:DeadLetter:MaxHeaderLength", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Workers:DeadLetter:FallbackTimeout", StringComparison.Ordinal));
    }

    [Fact]
    public void UseWorkersRedelivery_WithInvalidOptions_ThrowsWithEveryError()
    {
        var options = new RedeliveryOptions { Delay = TimeSpan.Zero, ImmediateRetries = -1 };
        var services = new ServiceCollection().BuildServiceProvider();

        var error = Assert.Throws<ArgumentException>(() =>
            Bus.Factory.CreateUsingInMemory(cfg => cfg.ReceiveEndpoint("q", e => e.UseWorkersRedelivery(services, options))));

        Assert.Contains("Redelivery:Delay", error.Message, StringComparison.Ordinal);
        Assert.Contains("Redelivery:ImmediateRetries", error.Message, StringComparison.Ordinal);
    }
}
