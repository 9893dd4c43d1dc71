using System.Text;
using System.Text.Json.Nodes;
using MassTransit;
using RabbitMQ.Client;
using Workers.Cli.Publish;
using Workers.Cli.Tests.Contracts;
using Workers.Cli.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Cli.Tests.Publish;

public sealed class PublishCommandTests(RabbitMqTestVhost vhost) : BrokerTestClass(vhost)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task PublishCount_MassTransitConsumerReceivesEveryMessage()
    {
        var consumers = new TestConsumers();
        await using var bus = await Broker.StartBusAsync(cfg => cfg.ReceiveEndpoint("publish-orders", consumers.Configure));

        var result = await CliRunner.RunAsync(Broker.Args("publish", "publish-orders", "--type", typeof(OrderSubmitted).FullName!, "--body", """{"number":7,"behaviour":"ok"}""", "--count", "50", "--header", "tenant=acme"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("published 50 message(s)", result.Output, StringComparison.Ordinal);
        await consumers.WaitForAsync(c => c.Received.Count >= 50, Timeout);
        Assert.Equal(50, consumers.Received.Select(r => r.MessageId).Distinct().Count());
        Assert.All(consumers.Received, r => Assert.Equal(nameof(OrderSubmitted), r.Type));
        Assert.All(consumers.Received, r => Assert.Contains("tenant", r.HeaderNames));
    }

    [Fact]
    public async Task PublishJsonLinesFileWithUrnType_ConsumerReceivesEachLine()
    {
        var consumers = new TestConsumers();
        await using var bus = await Broker.StartBusAsync(cfg => cfg.ReceiveEndpoint("publish-payments", consumers.Configure));
        var file = Path.Combine(Path.GetTempPath(), $"workers-cli-{Guid.NewGuid():N}.jsonl");
        await File.WriteAllLinesAsync(file, Enumerable.Range(1, 20).Select(i => $$"""{"number":{{i}}}""").Append(string.Empty), TestContext.Current.CancellationToken);
        try
        {
            var result = await CliRunner.RunAsync(Broker.Args("publish", "publish-payments", "--type", "urn:message:Workers.Cli.Tests.Contracts:PaymentCaptured", "--file", file), cancellationToken: TestContext.Current.CancellationToken);

            Assert.True(result.ExitCode == 0, result.ToString());
            await consumers.WaitForAsync(c => c.Received.Count >= 20, Timeout);
            Assert.All(consumers.Received, r => Assert.Equal(nameof(PaymentCaptured), r.Type));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task PublishFromStandardInput_ToAnExchange_IsRouted()
    {
        var consumers = new TestConsumers();
        await using var bus = await Broker.StartBusAsync(cfg => cfg.ReceiveEndpoint("publish-stdin", consumers.Configure));

        // MassTransit binds an exchange of the endpoint's name to its queue; publish to a message-type exchange it created.
        var result = await CliRunner.RunAsync(Broker.Args("publish", "Workers.Cli.Tests.Contracts:OrderSubmitted", "--type", typeof(OrderSubmitted).FullName!), "{\"number\":1}\n{\"number\":2}\n", TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("exchange", result.Output, StringComparison.Ordinal);
        await consumers.WaitForAsync(c => c.Received.Count >= 2, Timeout);
    }

    [Fact]
    public async Task Envelope_MatchesWhatMassTransitItselfSends()
    {
        await Broker.DeclareQueueAsync("capture-mt");
        await Broker.DeclareQueueAsync("capture-cli");
        await using (var bus = await Broker.StartBusAsync(_ => { }))
        {
            var endpoint = await bus.Bus.GetSendEndpoint(new Uri("queue:capture-mt"));
            await endpoint.Send(new OrderSubmitted { Number = 3 }, TestContext.Current.CancellationToken);
        }

        var result = await CliRunner.RunAsync(Broker.Args("publish", "capture-cli", "--type", typeof(OrderSubmitted).FullName!, "--body", """{"number":3}"""), cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(result.ExitCode == 0, result.ToString());
        await Broker.WaitForReadyAsync("capture-mt", n => n == 1, Timeout);

        var (mtProperties, mtBody) = await GetOneAsync("capture-mt");
        var (cliProperties, cliBody) = await GetOneAsync("capture-cli");

        Assert.Equal(mtProperties.ContentType, cliProperties.ContentType);
        Assert.Equal(mtProperties.DeliveryMode, cliProperties.DeliveryMode);
        Assert.NotNull(cliProperties.MessageId);
        var mt = JsonNode.Parse(mtBody)!.AsObject();
        var cli = JsonNode.Parse(cliBody)!.AsObject();
        Assert.Equal(mt.Select(p => p.Key).Order(), cli.Select(p => p.Key).Order());
        Assert.Equal(mt["messageType"]!.ToJsonString(), cli["messageType"]!.ToJsonString());
        Assert.Equal(mt["message"]!["number"]!.GetValue<int>(), cli["message"]!["number"]!.GetValue<int>());
        Assert.Equal(mt["host"]!.AsObject().Select(p => p.Key).Order(), cli["host"]!.AsObject().Select(p => p.Key).Order());
        Assert.Equal(mtProperties.MessageId, mt["messageId"]!.GetValue<string>());
        Assert.Equal(cliProperties.MessageId, cli["messageId"]!.GetValue<string>());
        Assert.Equal(
            (mtProperties.Headers ?? new Dictionary<string, object?>()).Keys.Order(),
            (cliProperties.Headers ?? new Dictionary<string, object?>()).Keys.Order());
    }

    [Fact]
    public void TypeNames_BecomeMassTransitUrns()
    {
        Assert.Equal("urn:message:Workers.Cli.Tests.Contracts:OrderSubmitted", MessageTypeName.ToUrn("Workers.Cli.Tests.Contracts.OrderSubmitted"));
        Assert.Equal("urn:message:A.B:Outer+Inner", MessageTypeName.ToUrn("A.B.Outer+Inner"));
        Assert.Equal("urn:message:Plain", MessageTypeName.ToUrn("Plain"));
        Assert.Equal("urn:message:A:B", MessageTypeName.ToUrn("urn:message:A:B"));
        Assert.Null(MessageTypeName.ToUrn("not a type"));
        Assert.Null(MessageTypeName.ToUrn("urn:message:"));
        Assert.Equal("A.B.C", MessageTypeName.ToTypeName("urn:message:A.B:C"));
    }

    private async Task<(IReadOnlyBasicProperties Properties, string Body)> GetOneAsync(string queue)
    {
        var factory = new ConnectionFactory { Uri = Vhost.Uri };
        await using var connection = await factory.CreateConnectionAsync(TestContext.Current.CancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: TestContext.Current.CancellationToken);
        var result = await channel.BasicGetAsync(queue, autoAck: true, TestContext.Current.CancellationToken);
        Assert.NotNull(result);
        return (result.BasicProperties, Encoding.UTF8.GetString(result.Body.Span));
    }
}
