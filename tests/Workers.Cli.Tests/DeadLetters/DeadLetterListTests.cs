using System.Text.Json.Nodes;
using Workers.Cli.Tests.Contracts;
using Workers.Cli.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Cli.Tests.DeadLetters;

public sealed class DeadLetterListTests(RabbitMqTestVhost vhost) : BrokerTestClass(vhost)
{
    [Fact]
    public async Task MixedDeadLetters_ListShowsAllAndLeavesQueueIntact()
    {
        var consumers = new TestConsumers();
        List<string> orders, payments;
        await using (var bus = await Broker.StartBusAsync(cfg => cfg.ReceiveEndpoint("list-mixed", consumers.Configure)))
        {
            (orders, payments) = await Broker.SeedMassTransitDeadLettersAsync(bus, consumers, "list-mixed", orders: 3, payments: 2);
        }

        var failedAt = new DateTimeOffset(2026, 11, 20, 10, 0, 0, TimeSpan.Zero);
        var workers = new List<string>
        {
            await Broker.PublishWorkersDeadLetterAsync("list-mixed_error", "list-mixed", new OrderSubmitted { Number = 100 }, "System.Net.Http.HttpRequestException", 5, failedAt),
            await Broker.PublishWorkersDeadLetterAsync("list-mixed_error", "list-mixed", new PaymentCaptured { Number = 101 }, "Workers.PermanentFailureException", 1, failedAt),
        };

        var first = await CliRunner.RunAsync(Broker.Args("dlq", "list", "list-mixed", "--json"), cancellationToken: TestContext.Current.CancellationToken);
        var second = await CliRunner.RunAsync(Broker.Args("dlq", "list", "list-mixed", "--json"), cancellationToken: TestContext.Current.CancellationToken);
        var table = await CliRunner.RunAsync(Broker.Args("dlq", "list", "list-mixed", "--limit", "3"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(first.ExitCode == 0, first.ToString());
        var listed = JsonNode.Parse(first.Output)!.AsArray();
        Assert.Equal(7, listed.Count);
        var byId = listed.ToDictionary(m => m!["messageId"]!.GetValue<string>(), m => m!);
        Assert.Equal(orders.Concat(payments).Concat(workers).Order(), byId.Keys.Order());
        Assert.All(orders, id => Assert.Equal("System.InvalidOperationException", byId[id]["exceptionType"]!.GetValue<string>()));
        Assert.All(payments, id => Assert.Equal("System.TimeoutException", byId[id]["exceptionType"]!.GetValue<string>()));
        Assert.All(orders, id => Assert.Equal("urn:message:Workers.Cli.Tests.Contracts:OrderSubmitted", byId[id]["messageType"]![0]!.GetValue<string>()));
        Assert.All(orders.Concat(payments), id => Assert.Equal("list-mixed", byId[id]["sourceQueue"]!.GetValue<string>()));
        Assert.All(orders.Concat(payments), id => Assert.NotNull(byId[id]["lastFailure"]));
        Assert.Equal(5, byId[workers[0]]["attempts"]!.GetValue<long>());
        Assert.Equal("System.Net.Http.HttpRequestException", byId[workers[0]]["exceptionType"]!.GetValue<string>());
        Assert.Equal("2026-11-20T09:55:00.0000000+00:00", byId[workers[0]]["firstFailure"]!.GetValue<string>());
        Assert.Equal("2026-11-20T10:00:00.0000000+00:00", byId[workers[0]]["lastFailure"]!.GetValue<string>());

        Assert.Equal(first.Output, second.Output);
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("3 of 7 message(s)", table.Output, StringComparison.Ordinal);

        var order = listed.Select(m => m!["messageId"]!.GetValue<string>()).ToList();
        var drained = await Broker.DrainAsync("list-mixed_error");
        Assert.Equal(order, drained.Select(m => m.MessageId).ToList());
    }

    [Fact]
    public async Task BackToBackReads_OfALargeQueue_EachSeeEveryMessage()
    {
        await Broker.DeclareQueueAsync("list-large");
        await Broker.DeclareQueueAsync("list-large_error");
        var seeded = await CliRunner.RunAsync(Broker.Args("publish", "list-large_error", "--type", typeof(OrderSubmitted).FullName!, "--body", "{}", "--count", "2000", "--header", "Workers-Fault-Queue=list-large"), cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(seeded.ExitCode == 0, seeded.ToString());

        // The broker requeues asynchronously; each command waits for it, so the next one sees the whole queue.
        var first = await CliRunner.RunAsync(Broker.Args("dlq", "list", "list-large"), cancellationToken: TestContext.Current.CancellationToken);
        var second = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "list-large", "--dry-run"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("2000 of 2000 message(s)", first.Output, StringComparison.Ordinal);
        Assert.Contains("matched 2000,", second.Output, StringComparison.Ordinal);
        Assert.Equal(2000u, await Broker.ReadyCountAsync("list-large_error"));
    }

    [Fact]
    public async Task Show_PrintsHeadersAndBody_AndKeepsTheMessage()
    {
        var id = await Broker.PublishWorkersDeadLetterAsync("show-one_error", "show-one", new OrderSubmitted { Number = 42 }, "System.TimeoutException", 3, DateTimeOffset.UtcNow);

        var result = await CliRunner.RunAsync(Broker.Args("dlq", "show", "show-one", id), cancellationToken: TestContext.Current.CancellationToken);
        var missing = await CliRunner.RunAsync(Broker.Args("dlq", "show", "show-one", Guid.NewGuid().ToString()), cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Workers-Fault-Queue: show-one", result.Output, StringComparison.Ordinal);
        Assert.Contains("\"number\": 42", result.Output, StringComparison.Ordinal);
        Assert.Contains("attempts:         3", result.Output, StringComparison.Ordinal);
        Assert.Equal(1, missing.ExitCode);
        Assert.True(missing.HasOneLineError, missing.ToString());
        Assert.Equal(1u, await Broker.ReadyCountAsync("show-one_error"));
    }
}
