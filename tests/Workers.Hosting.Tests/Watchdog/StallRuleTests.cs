using Workers.Hosting;
using Xunit;

namespace Workers.Hosting.Tests.Watchdog;

public sealed class StallRuleTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Stall = TimeSpan.FromSeconds(30);
    private static readonly Uri Address = new("rabbitmq://localhost/orders");

    private static EndpointActivitySnapshot Ready(DateTimeOffset? lastReceived = null, int inFlight = 0) => new(true, Start, lastReceived, inFlight, Address);

    [Fact]
    public void NoConsumerOnTheBroker_AfterTheStallTimeout_IsStuck()
    {
        var reason = StallRule.Evaluate(Ready(), queueMessages: 0, queueConsumers: 0, paused: false, Start + Stall, Stall);

        Assert.Contains("no consumer", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void MessagesWaiting_NothingInFlight_NothingReceived_IsStuck()
    {
        var reason = StallRule.Evaluate(Ready(lastReceived: Start.AddSeconds(5)), queueMessages: 12, queueConsumers: 1, paused: false, Start.AddSeconds(40), Stall);

        Assert.Contains("12 message(s) wait in the queue", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void WithinTheStallTimeout_OfReadyOrOfTheLastDelivery_IsNotStuck()
    {
        Assert.Null(StallRule.Evaluate(Ready(), 12, 0, false, Start + Stall - TimeSpan.FromSeconds(1), Stall));
        Assert.Null(StallRule.Evaluate(Ready(lastReceived: Start.AddSeconds(20)), 12, 0, false, Start.AddSeconds(40), Stall));
    }

    [Fact]
    public void BusyOrIdleOrNotReadyOrPaused_IsNotStuck()
    {
        var late = Start.AddMinutes(5);

        Assert.Null(StallRule.Evaluate(Ready(inFlight: 3), 12, 1, false, late, Stall));
        Assert.Null(StallRule.Evaluate(Ready(), 0, 1, false, late, Stall));
        Assert.Null(StallRule.Evaluate(Ready() with { Ready = false }, 12, 0, false, late, Stall));
        Assert.Null(StallRule.Evaluate(Ready(), 12, 0, paused: true, late, Stall));
    }

    [Fact]
    public void ReadyBefore_DownForTheStallTimeout_WhileTheBrokerAnswered_IsStuck()
    {
        var down = Ready() with { Ready = false, NotReadySince = Start };

        Assert.Null(StallRule.Evaluate(down, 12, 0, false, Start + Stall, Stall));
        Assert.Null(StallRule.Evaluate(down, 12, 0, false, Start + Stall, Stall, brokerAnsweringSince: Start.AddSeconds(10)));
        Assert.Null(StallRule.Evaluate(down, 12, 0, paused: true, Start.AddMinutes(5), Stall, brokerAnsweringSince: Start));
        var reason = StallRule.Evaluate(down, 12, 0, false, Start.AddSeconds(40), Stall, brokerAnsweringSince: Start.AddSeconds(10));

        Assert.Contains("has not been ready for 0:00:40", reason, StringComparison.Ordinal);
        Assert.Contains("answered for 0:00:30", reason, StringComparison.Ordinal);
    }
}
