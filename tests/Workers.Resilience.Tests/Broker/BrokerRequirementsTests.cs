using Xunit;

using Workers.Resilience.Broker;

namespace Workers.Resilience.Tests.Broker;

public class BrokerRequirementsTests
{
    [Theory]
    [InlineData("3.10.0")]
    [InlineData("3.10.8")]
    [InlineData("3.13.7")]
    [InlineData("4.1.0")]
    [InlineData("3.12.0-rc.1")]
    public void SupportedVersions_Pass(string version)
    {
        BrokerRequirements.CheckVersion("RabbitMQ", version, "host:5672/");
    }

    [Theory]
    [InlineData("3.9.29")]
    [InlineData("3.8.0")]
    [InlineData("2.8.7")]
    [InlineData("garbage")]
    public void OldOrUnknownVersions_FailWithAnActionableMessage(string version)
    {
        var error = Assert.Throws<InvalidOperationException>(() => BrokerRequirements.CheckVersion("RabbitMQ", version, "host:5672/orders"));

        Assert.Contains("≥ 3.10", error.Message, StringComparison.Ordinal);
        Assert.Contains("host:5672/orders", error.Message, StringComparison.Ordinal);
        Assert.Contains("Upgrade the broker", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OtherProduct_Fails()
    {
        var error = Assert.Throws<InvalidOperationException>(() => BrokerRequirements.CheckVersion("LavinMQ", "1.2.0", "h:1/"));

        Assert.Contains("not RabbitMQ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_NeverShowsCredentials()
    {
        var where = BrokerRequirements.Describe(new Uri("amqp://user:s3cret@broker:5673/orders"));

        Assert.Equal("broker:5673/orders", where);
    }
}
