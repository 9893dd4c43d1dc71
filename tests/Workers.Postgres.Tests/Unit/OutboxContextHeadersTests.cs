using MassTransit.Context;
using Workers.Postgres.Outbox;
using Xunit;

namespace Workers.Postgres.Tests.Unit;

public sealed class OutboxContextHeadersTests
{
    [Fact]
    public void CaptureSentThenRestore_CarriesCorrelationRequestResponseAndFault_AndSendsNoReservedHeader()
    {
        var sent = new MessageSendContext<Ping>(new Ping(), TestContext.Current.CancellationToken)
        {
            CorrelationId = Guid.NewGuid(),
            ConversationId = Guid.NewGuid(),
            RequestId = Guid.NewGuid(),
            ResponseAddress = new Uri("rabbitmq://localhost/vhost/response-queue"),
            FaultAddress = new Uri("rabbitmq://localhost/vhost/fault-queue"),
        };
        var headers = new Dictionary<string, string>(StringComparer.Ordinal) { ["tenant"] = "t-1" };

        OutboxContextHeaders.CaptureSent(headers, sent);
        var wire = new MessageSendContext<Ping>(new Ping(), TestContext.Current.CancellationToken);
        OutboxContextHeaders.Restore(wire, headers);

        Assert.Equal(sent.CorrelationId, wire.CorrelationId);
        Assert.Equal(sent.ConversationId, wire.ConversationId);
        Assert.Equal(sent.RequestId, wire.RequestId);
        Assert.Equal(sent.ResponseAddress, wire.ResponseAddress);
        Assert.Equal(sent.FaultAddress, wire.FaultAddress);
        Assert.Equal("t-1", wire.Headers.Get<string>("tenant"));
        Assert.DoesNotContain(wire.Headers.GetAll(), h => h.Key.StartsWith(OutboxContextHeaders.ReservedPrefix, StringComparison.Ordinal));
    }

    [Fact]
    public void CaptureSent_WithoutIds_AddsNothing()
    {
        var sent = new MessageSendContext<Ping>(new Ping(), TestContext.Current.CancellationToken);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);

        OutboxContextHeaders.CaptureSent(headers, sent);

        Assert.Empty(headers);
    }

    public sealed record Ping;
}
