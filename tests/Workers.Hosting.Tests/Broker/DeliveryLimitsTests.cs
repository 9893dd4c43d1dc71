using Workers.Hosting;
using Xunit;

namespace Workers.Hosting.Tests.Broker;

public sealed class DeliveryLimitsTests
{
    private static readonly Version Rabbit4 = new(4, 0, 5);
    private static readonly Version Rabbit3 = new(3, 10, 8);
    private const long Minimum = 1_000_000;

    [Fact]
    public void NoPolicy_LeavesTheDeclaredLimit()
    {
        Assert.Null(DeliveryLimits.Effective("orders", int.MaxValue, [], Rabbit4));
        Assert.Empty(DeliveryLimits.Check(["orders", "orders_error"], [], Rabbit4, Minimum));
    }

    [Fact]
    public void MatchingPolicy_LowersTheLimit_AndIsNamed()
    {
        var policies = new[] { new BrokerPolicy("guard", "^orders", "queues", 0, 20) };
        var violations = DeliveryLimits.Check(["orders", "orders_error", "payments"], policies, Rabbit4, Minimum);
        Assert.Equal(["orders", "orders_error"], violations.Select(v => v.Queue));
        Assert.All(violations, v => Assert.Equal(20, v.Limit));
        Assert.Contains("policy 'guard'", violations[0].Source, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("all", true)]
    [InlineData("queues", true)]
    [InlineData("quorum_queues", true)]
    [InlineData("classic_queues", false)]
    [InlineData("streams", false)]
    [InlineData("exchanges", false)]
    public void OnlyPoliciesThatApplyToQuorumQueuesCount(string applyTo, bool counts)
    {
        var policies = new[] { new BrokerPolicy("p", ".*", applyTo, 0, 5) };
        Assert.Equal(counts, DeliveryLimits.Effective("orders", int.MaxValue, policies, Rabbit4) is not null);
    }

    [Fact]
    public void OnlyTheHighestPriorityPolicyApplies()
    {
        // RabbitMQ applies one policy per queue: a higher-priority one without delivery-limit hides a lower one with it.
        var hidden = new[] { new BrokerPolicy("low", ".*", "queues", 0, 20), new BrokerPolicy("high", "^orders$", "queues", 5, null) };
        Assert.Null(DeliveryLimits.Effective("orders", int.MaxValue, hidden, Rabbit4));
        Assert.Equal(20, DeliveryLimits.Effective("payments", int.MaxValue, hidden, Rabbit4)?.Limit);

        var winning = new[] { new BrokerPolicy("low", ".*", "queues", 0, null), new BrokerPolicy("high", "^orders$", "queues", 5, 7) };
        Assert.Equal(7, DeliveryLimits.Effective("orders", int.MaxValue, winning, Rabbit4)?.Limit);
    }

    [Fact]
    public void SamePriority_TheLowerLimitIsTaken()
    {
        var policies = new[] { new BrokerPolicy("a", "^orders", "queues", 1, 50), new BrokerPolicy("b", "orders$", "queues", 1, 30) };
        var effective = DeliveryLimits.Effective("orders", int.MaxValue, policies, Rabbit4);
        Assert.Equal(30, effective?.Limit);
        Assert.Contains("'b'", effective?.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void OperatorPolicy_AppliesOnTopOfTheUserPolicy_TheLowerWins()
    {
        var policies = new[]
        {
            new BrokerPolicy("user", ".*", "queues", 10, 5_000_000),
            new BrokerPolicy("ops", ".*", "queues", 0, 100, Operator: true),
        };
        var effective = DeliveryLimits.Effective("orders", int.MaxValue, policies, Rabbit4);
        Assert.Equal(100, effective?.Limit);
        Assert.Contains("operator policy 'ops'", effective?.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void NegativeLimit_IsUnlimitedOn4_ButDropsAtTheFirstReturnOn3()
    {
        var policies = new[] { new BrokerPolicy("unlimited", ".*", "queues", 0, -1) };
        Assert.Null(DeliveryLimits.Effective("orders", int.MaxValue, policies, Rabbit4));
        Assert.Equal(0, DeliveryLimits.Effective("orders", int.MaxValue, policies, Rabbit3)?.Limit);
    }

    [Fact]
    public void HighLimit_IsAccepted_LowOneIsNot()
    {
        Assert.Empty(DeliveryLimits.Check(["orders"], [new BrokerPolicy("p", ".*", "queues", 0, Minimum)], Rabbit4, Minimum));
        Assert.Single(DeliveryLimits.Check(["orders"], [new BrokerPolicy("p", ".*", "queues", 0, Minimum - 1)], Rabbit4, Minimum));
    }

    [Fact]
    public void UnreadablePattern_CountsAsMatching_ButHidesNoReadablePolicy()
    {
        var unreadable = new List<string>();
        var policies = new[]
        {
            new BrokerPolicy("odd", "(?<unclosed", "queues", 9, 40),
            new BrokerPolicy("plain", "^orders", "queues", 0, 20),
        };
        var effective = DeliveryLimits.Effective("orders", int.MaxValue, policies, Rabbit4, unreadable);
        Assert.Equal(20, effective?.Limit);
        Assert.Equal(["odd"], unreadable);

        var alone = DeliveryLimits.Effective("orders", int.MaxValue, [policies[0]], Rabbit4);
        Assert.Equal(40, alone?.Limit);
    }

    [Fact]
    public void Describe_SaysWhyAndWhatToDo_WithEveryQueue()
    {
        var text = DeliveryLimitPreflight.Describe(
            [new DeliveryLimitViolation("orders", 20, "policy 'guard'"), new DeliveryLimitViolation("orders_error", 20, "policy 'guard'")],
            "127.0.0.1:5672/shop",
            Rabbit4);
        Assert.Contains("2 quorum queues", text, StringComparison.Ordinal);
        Assert.Contains("queue 'orders': delivery limit 20 from policy 'guard'", text, StringComparison.Ordinal);
        Assert.Contains("queue 'orders_error'", text, StringComparison.Ordinal);
        Assert.Contains("1,000,000", text, StringComparison.Ordinal);
    }

    [Fact]
    public void QuorumQueues_AreTheQuorumEndpointsWithTheirErrorAndSkippedQueues()
    {
        var options = new WorkersOptions();
        options.Endpoints["orders"] = new EndpointOptions { QueueType = QueueType.Quorum };
        Assert.Equal(["orders", "orders_error", "orders_skipped"], DeliveryLimitPreflight.QuorumQueues(options, ["orders", "payments", "orders"]));
    }
}
