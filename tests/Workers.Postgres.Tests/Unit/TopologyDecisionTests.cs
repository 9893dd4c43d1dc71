using Npgsql;
using Workers.Postgres.Storage;
using Xunit;

namespace Workers.Postgres.Tests.Unit;

public sealed class TopologyDecisionTests
{
    [Theory]
    [InlineData(new[] { 0, 1 }, "OnePrimary")]
    [InlineData(new[] { 2, 1 }, "NoPrimary")]
    [InlineData(new[] { 1, 1 }, "NoPrimary")]
    [InlineData(new[] { 0, 0 }, "SplitBrain")]
    [InlineData(new[] { 2, 0 }, "OnePrimary")]
    public void Evaluate_CountsPrimaries(int[] answers, string expectedState)
    {
        var expected = Enum.Parse<TopologyState>(expectedState);
        // 0 = primary (not in recovery), 1 = standby, 2 = unreachable
        var inRecovery = answers.Select(a => a switch { 0 => false, 1 => true, _ => (bool?)null }).ToList();
        Assert.Equal(expected, TopologyDecision.Evaluate(inRecovery));
    }

    [Fact]
    public void SplitHosts_GivesOneAnyRoleConnectionPerHost()
    {
        var hosts = TopologyDecision.SplitHosts("Host=db1:5433,db2;Port=5432;Username=app;Target Session Attributes=primary", TimeSpan.FromSeconds(2));

        Assert.Equal(2, hosts.Count);
        var first = new NpgsqlConnectionStringBuilder(hosts[0]);
        var second = new NpgsqlConnectionStringBuilder(hosts[1]);
        Assert.Equal(("db1", 5433), (first.Host, first.Port));
        Assert.Equal(("db2", 5432), (second.Host, second.Port));
        Assert.Equal("any", first.TargetSessionAttributes);
        Assert.False(first.Pooling);
        Assert.Equal("app", second.Username);
    }
}
