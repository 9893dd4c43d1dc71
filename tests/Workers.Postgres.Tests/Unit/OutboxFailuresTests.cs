using System.Reflection;
using System.Text.Json;
using RabbitMQ.Client.Exceptions;
using Workers.Postgres.Outbox;
using Xunit;

namespace Workers.Postgres.Tests.Unit;

public sealed class OutboxFailuresTests
{
    [Fact]
    public void ErrorBeforeAnyBrokerIo_CountsAgainstTheRow() =>
        Assert.Equal(OutboxFailureKind.Row, OutboxFailures.Classify(new JsonException("bad body"), preparing: true));

    [Fact]
    public void ReturnedPublish_WrappedByMassTransit_IsUnroutable() =>
        Assert.Equal(OutboxFailureKind.Unroutable, OutboxFailures.Classify(new InvalidOperationException("The message was returned by RabbitMQ", NewPublishReturn()), preparing: false));

    [Fact]
    public void OtherPublishFailures_AreTheBrokers() =>
        Assert.Equal(OutboxFailureKind.Broker, OutboxFailures.Classify(new TimeoutException("no confirm"), preparing: false));

    private static PublishReturnException NewPublishReturn()
    {
        var constructor = typeof(PublishReturnException).GetConstructors(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
            .OrderByDescending(c => c.GetParameters().Length).First();
        var arguments = constructor.GetParameters().Select(p => p.ParameterType == typeof(string) ? "x" : p.ParameterType.IsPrimitive ? Convert.ChangeType(1, p.ParameterType, System.Globalization.CultureInfo.InvariantCulture) : null).ToArray();
        return (PublishReturnException)constructor.Invoke(arguments);
    }
}
