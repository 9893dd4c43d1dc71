using System.Net;
using Workers.Testing;
using Xunit;

namespace Workers.Packaging.Tests;

/// <summary>
/// The packages as a new user meets them: apps made outside the repository add WorkersFx.* from the local feed,
/// build, and run a consumer through Workers' whole pipeline on a real broker (a vhost of their own) and database;
/// the CLI is installed as a dotnet tool and used for real (schema, publishing the messages); the <c>dotnet new</c>
/// template is instantiated, its tests run, and the worker it makes consumes on the broker.
/// </summary>
public sealed class PackagedAppsTests(FreshWorkspace workspace, RabbitMqTestVhost vhost, PostgresTestDatabase database)
    : IClassFixture<FreshWorkspace>, IClassFixture<RabbitMqTestVhost>, IClassFixture<PostgresTestDatabase>
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Cli_InstalledAsADotnetTool_ListsEveryCommand()
    {
        TestContext.Current.TestOutputHelper?.WriteLine(workspace.Log);

        var help = await RunCliAsync("--help");

        Assert.Equal(0, help.ExitCode);
        foreach (var verb in new[] { "publish", "dlq", "status", "migrate" })
        {
            Assert.Contains(verb, help.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task GenericHostWorker_FromThePackages_ConsumesThroughThePipeline()
    {
        TestContext.Current.TestOutputHelper?.WriteLine(workspace.Log);
        (await RunCliAsync("migrate", "--postgres", database.ConnectionString)).Succeeded("workers migrate");
        await using var worker = WorkerProcess.Start(workspace.WorkerAssembly, new Dictionary<string, string>
        {
            ["Workers__RabbitMq__Uri"] = vhost.Uri.ToString(),
            ["Workers__Postgres__ConnectionString"] = database.ConnectionString,
            ["DOTNET_ENVIRONMENT"] = "Production",
        });
        await worker.WaitForOutputAsync("Application started", Bound);

        var id = Guid.NewGuid();
        (await RunCliAsync("publish", "fresh-ping", "--type", "Fresh.Ping", "--body", $$"""{"id":"{{id}}","text":"hello"}""", "--rabbitmq", vhost.Uri.ToString()))
            .Succeeded("workers publish");

        // The first attempt fails (redelivered through the broker's delay ladder), the second publishes a Pong through
        // the outbox, committed with the inbox record, which the dispatcher relays to the second consumer.
        await worker.WaitForOutputAsync($"Ping {id} consumed on attempt 2", Bound);
        await worker.WaitForOutputAsync($"Pong {id} received", Bound);
        worker.Terminate();
        Assert.Equal(0, await worker.WaitForExitAsync(Bound));
    }

    [Fact]
    public async Task AspNetCoreWorker_FromThePackages_ConsumesAndServesHealthAndMetrics()
    {
        TestContext.Current.TestOutputHelper?.WriteLine(workspace.Log);
        await using var worker = WorkerProcess.Start(workspace.WebAssembly, new Dictionary<string, string>
        {
            ["Workers__RabbitMq__Uri"] = vhost.Uri.ToString(),
            ["Urls"] = "http://127.0.0.1:0",
            ["DOTNET_ENVIRONMENT"] = "Production",
        });
        var address = await worker.WaitForListeningAsync(Bound);

        var id = Guid.NewGuid();
        (await RunCliAsync("publish", "fresh-web-ping", "--type", "Fresh.Ping", "--body", $$"""{"id":"{{id}}","text":"hello"}""", "--rabbitmq", vhost.Uri.ToString()))
            .Succeeded("workers publish");
        await worker.WaitForOutputAsync($"Ping {id} consumed by the web worker", Bound);

        using var http = new HttpClient { BaseAddress = address, Timeout = Bound };
        using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);

        // The meters AddWorkers registers, exported by the opt-in package (a scrape reports what was collected
        // since the last one: poll until the consume shows).
        var metrics = string.Empty;
        await Eventually.HoldsAsync(
            async () => (metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), TestContext.Current.CancellationToken)).Contains("messaging_masstransit_consume_ea_total", StringComparison.Ordinal),
            Bound,
            () => Task.FromResult($"MassTransit's consume counter at /metrics; last scrape:\n{metrics}\n{worker.Output}"),
            TestContext.Current.CancellationToken);
        worker.Terminate();
        Assert.Equal(0, await worker.WaitForExitAsync(Bound));
    }

    [Fact]
    public async Task WorkerTemplate_Instantiated_PassesItsTests_AndConsumesOnABroker_DeadLetteringAnInvalidOrder()
    {
        TestContext.Current.TestOutputHelper?.WriteLine(workspace.Log);
        var hive = Path.Combine(workspace.Root, "template-hive");
        var app = Path.Combine(workspace.Root, "template", "Acme.Orders");
        (await DotnetAsync(workspace.Root, "new", "install", workspace.TemplatePackage, "--debug:custom-hive", hive)).Succeeded("dotnet new install WorkersFx.Templates");
        (await DotnetAsync(workspace.Root, "new", "workers-worker", "-n", "Acme.Orders", "-o", app, "--queue", "acme-orders", "--debug:custom-hive", hive)).Succeeded("dotnet new workers-worker");
        Assert.True(File.Exists(Path.Combine(app, "Dockerfile")) && File.Exists(Path.Combine(app, "compose.yaml")), "the Dockerfile and compose file are part of the template");

        // Restores WorkersFx from the local feed, builds with warnings as errors, runs the consumer tests (no broker).
        var test = await DotnetAsync(app, "test", "Acme.Orders.slnx", "-c", "Release", "-nologo", "-nodeReuse:false");
        test.Succeeded("dotnet test of the generated solution");
        Assert.Matches(@"Passed!\s+-\s+Failed:\s+0,\s+Passed:\s+2", test.Output);

        await using var worker = WorkerProcess.Start(Path.Combine(app, "src", "Acme.Orders", "bin", "Release", "net10.0", "Acme.Orders.dll"), new Dictionary<string, string>
        {
            ["WORKERS_RABBITMQ_URI"] = vhost.Uri.ToString(),
            ["Urls"] = "http://127.0.0.1:0",
            ["DOTNET_ENVIRONMENT"] = "Production",
        });
        var address = await worker.WaitForListeningAsync(Bound);
        var id = Guid.NewGuid();
        (await RunCliAsync("publish", "acme-orders", "--type", "Acme.Orders.Orders.SubmitOrder", "--body", $$"""{"orderId":"{{id}}","customerId":"c-1","amount":12.5}""", "--rabbitmq", vhost.Uri.ToString()))
            .Succeeded("workers publish");
        await worker.WaitForOutputAsync($"Order {id} of c-1 for 12.5 accepted", Bound);

        // An invalid order is a permanent failure (the template's classification): dead-lettered at once, not redelivered.
        (await RunCliAsync("publish", "acme-orders", "--type", "Acme.Orders.Orders.SubmitOrder", "--body", $$"""{"orderId":"{{Guid.NewGuid()}}","customerId":"c-1","amount":0}""", "--rabbitmq", vhost.Uri.ToString()))
            .Succeeded("workers publish");
        await worker.WaitForOutputAsync("dead-lettered to acme-orders_error (permanent, 1 attempts)", Bound);
        await vhost.WaitForReadyCountAsync("acme-orders_error", 1, Bound, TestContext.Current.CancellationToken);

        using var http = new HttpClient { BaseAddress = address, Timeout = Bound };
        using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        worker.Terminate();
        Assert.Equal(0, await worker.WaitForExitAsync(Bound));
    }

    private Task<Command.Result> DotnetAsync(string directory, params string[] arguments) =>
        Command.RunAsync("dotnet", arguments, directory, workspace.Environment, TimeSpan.FromMinutes(10));

    private Task<Command.Result> RunCliAsync(params string[] arguments) =>
        Command.RunAsync(workspace.Cli, arguments, workspace.Root, workspace.Environment, Bound);
}
