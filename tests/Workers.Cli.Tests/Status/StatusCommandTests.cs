using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Workers.Cli.Tests.Contracts;
using Workers.Cli.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Cli.Tests.Status;

public sealed class StatusCommandTests(RabbitMqTestVhost vhost) : BrokerTestClass(vhost)
{
    [Fact]
    public async Task Status_ShowsConsumersDepthAndErrorDepthPerEndpoint()
    {
        var consumers = new TestConsumers();
        await using var bus = await Broker.StartBusAsync(cfg => cfg.ReceiveEndpoint("status-orders", consumers.Configure));
        await Broker.DeclareQueueAsync("status-idle");
        for (var i = 0; i < 3; i++)
        {
            await Broker.PublishWorkersDeadLetterAsync("status-orders_error", "status-orders", new OrderSubmitted { Number = i }, "System.TimeoutException", 2, DateTimeOffset.UtcNow);
        }

        var args = Broker.Args("status", "--json", "--management", ManagementUri());

        // The management API refreshes its statistics every few seconds: poll until they show what the broker holds.
        JsonObject? orders = null;
        JsonObject? idle = null;
        CliResult? result = null;
        var started = DateTime.UtcNow;
        while (DateTime.UtcNow - started < TimeSpan.FromSeconds(30))
        {
            result = await CliRunner.RunAsync(args, cancellationToken: TestContext.Current.CancellationToken);
            Assert.True(result.ExitCode == 0, result.ToString());
            var endpoints = JsonNode.Parse(result.Output)!["endpoints"]!.AsArray();
            orders = endpoints.FirstOrDefault(e => e!["endpoint"]!.GetValue<string>() == "status-orders")?.AsObject();
            idle = endpoints.FirstOrDefault(e => e!["endpoint"]!.GetValue<string>() == "status-idle")?.AsObject();
            if (orders?["error"]?.GetValue<long>() == 3 && orders["consumers"]?.GetValue<long>() == 1)
            {
                break;
            }

            await Task.Delay(500, TestContext.Current.CancellationToken);
        }

        Assert.NotNull(orders);
        Assert.NotNull(idle);
        Assert.Equal(3, orders["error"]!.GetValue<long>());
        Assert.Equal(1, orders["consumers"]!.GetValue<long>());
        Assert.Equal(0, idle["consumers"]!.GetValue<long>());
        Assert.Null(idle["error"]);

        var table = await CliRunner.RunAsync(Broker.Args("status", "status-orders", "--management", ManagementUri()), cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("status-orders", table.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("status-idle", table.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_WithoutManagementApi_FallsBackToAmqpForNamedQueues()
    {
        await Broker.DeclareQueueAsync("status-amqp");
        await Broker.PublishWorkersDeadLetterAsync("status-amqp_error", "status-amqp", new OrderSubmitted { Number = 1 }, "System.TimeoutException", 2, DateTimeOffset.UtcNow);

        var result = await CliRunner.RunAsync(Broker.Args("status", "status-amqp", "--json", "--management", "http://guest:guest@127.0.0.1:1/"), cancellationToken: TestContext.Current.CancellationToken);
        var unnamed = await CliRunner.RunAsync(Broker.Args("status", "--management", "http://guest:guest@127.0.0.1:1/"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 0, result.ToString());
        var endpoint = JsonNode.Parse(result.Output)!["endpoints"]![0]!;
        Assert.Equal(1, endpoint["error"]!.GetValue<long>());
        Assert.Equal(1, unnamed.ExitCode);
        Assert.True(unnamed.HasOneLineError, unnamed.ToString());
    }

    [Fact]
    public async Task Status_MergesWorkerState_FromTheWorkerUrl()
    {
        await Broker.DeclareQueueAsync("status-worker");
        using var listener = new HttpListener();
        var port = FreePort();
        var prefix = $"http://127.0.0.1:{port}/";
        listener.Prefixes.Add(prefix);
        listener.Start();
        var serve = Task.Run(async () =>
        {
            var context = await listener.GetContextAsync();
            var body = Encoding.UTF8.GetBytes("""{"endpoints":[{"name":"status-worker","circuitState":"Open","bulkheadInFlight":3,"bulkheadLimit":8}],"outbox":{"pending":12,"lagSeconds":1.5,"quarantined":2,"held":5}}""");
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }, TestContext.Current.CancellationToken);

        var result = await CliRunner.RunAsync(Broker.Args("status", "status-worker", "--worker-url", prefix + "status", "--management", ManagementUri()), cancellationToken: TestContext.Current.CancellationToken);
        await serve;

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Open", result.Output, StringComparison.Ordinal);
        Assert.Contains("3/8", result.Output, StringComparison.Ordinal);
        Assert.Contains("12 pending, lag 1.5 s; 2 quarantined, 5 held behind them", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_UnreachableWorkerUrl_FailsWithOneLine()
    {
        await Broker.DeclareQueueAsync("status-no-worker");

        var result = await CliRunner.RunAsync(Broker.Args("status", "status-no-worker", "--worker-url", $"http://127.0.0.1:{FreePort()}/status", "--management", ManagementUri()), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(1, result.ExitCode);
        Assert.True(result.HasOneLineError, result.ToString());
        Assert.Contains("worker status at", result.Error, StringComparison.Ordinal);
    }

    private static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static string ManagementUri() =>
        Environment.GetEnvironmentVariable(TestEnvironment.RabbitMqManagementUriVariable) ?? "http://guest:guest@127.0.0.1:15673/";
}
