using Workers.Postgres.Outbox;
using Xunit;

namespace Workers.Postgres.Tests.Unit;

/// <summary><c>messaging.destination.name</c> of an outbox publish: the exchange the MassTransit address names.</summary>
public sealed class OutboxExchangeNameTests
{
    [Theory]
    [InlineData("queue:orders", "orders")]
    [InlineData("exchange:Contracts:OrderPlaced", "Contracts:OrderPlaced")]
    [InlineData("rabbitmq://broker/vhost/Contracts:OrderPlaced", "Contracts:OrderPlaced")]
    [InlineData("rabbitmq://broker/vhost/orders?bind=true&queue=orders", "orders")]
    [InlineData("rabbitmq://broker/my%20vhost/order%20events", "order events")]
    [InlineData("rabbitmq://broker/orders/", "orders")]
    public void Address_NamesTheExchange(string address, string exchange) =>
        Assert.Equal(exchange, OutboxMetrics.ExchangeName(new Uri(address)));

    [Fact]
    public void AddressWithoutAName_HasNoExchange() =>
        Assert.Null(OutboxMetrics.ExchangeName(new Uri("rabbitmq://broker/")));
}
