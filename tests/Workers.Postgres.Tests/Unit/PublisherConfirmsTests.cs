using MassTransit;
using Xunit;

namespace Workers.Postgres.Tests.Unit;

/// <summary>The dispatcher marks a row dispatched only after Publish/Send returns: that is only safe with publisher confirms.</summary>
public sealed class PublisherConfirmsTests
{
    [Fact]
    public void MassTransitRabbitMqHostSettings_ConfirmPublishesByDefault()
    {
        var type = typeof(RabbitMqHostSettings).Assembly.GetTypes()
            .Single(t => t.Name == "ConfigurationHostSettings" && typeof(RabbitMqHostSettings).IsAssignableFrom(t));
        var settings = (RabbitMqHostSettings)Activator.CreateInstance(type, nonPublic: true)!;

        Assert.True(settings.PublisherConfirmation);
    }
}
