using Workers.Postgres.Outbox;
using Xunit;

namespace Workers.Postgres.Tests.Unit;

public sealed class OutboxMessageIdsTests
{
    private static readonly Guid Inbound = new("0d3c8a4e-5b1f-4c2a-9e7d-112233445566");

    [Fact]
    public void SameInputs_SameId_AVersion5Uuid()
    {
        var id = OutboxMessageIds.Derive(Inbound, "orders", 0);

        Assert.Equal(id, OutboxMessageIds.Derive(Inbound, "orders", 0));
        var text = id.ToString("D");
        Assert.Equal('5', text[14]); // version nibble
        Assert.Contains(text[19], "89ab"); // RFC 9562 variant
    }

    [Fact]
    public void AnyInputDiffers_IdDiffers()
    {
        var ids = new[]
        {
            OutboxMessageIds.Derive(Inbound, "orders", 0),
            OutboxMessageIds.Derive(Inbound, "orders", 1),
            OutboxMessageIds.Derive(Inbound, "payments", 0),
            OutboxMessageIds.Derive(Guid.NewGuid(), "orders", 0),
        };

        Assert.Equal(ids.Length, ids.Distinct().Count());
    }

    [Fact]
    public void ConsumeScope_RestartsPositionsOnEachRun_AndIsNullOutsideAConsume()
    {
        var scope = new OutboxConsumeScope();
        Assert.Null(scope.Next());

        scope.Begin(Inbound, "orders");
        var first = new[] { scope.Next(), scope.Next() };
        scope.Begin(Inbound, "orders");
        var second = new[] { scope.Next(), scope.Next() };

        Assert.Equal(first, second);
        Assert.Equal(OutboxMessageIds.Derive(Inbound, "orders", 1), first[1]);
    }
}
