using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Workers.Sample;
using Workers.Sample.Contracts;
using Workers.Sample.Orders;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Deploy;

/// <summary>
/// The deployment's RabbitMQ accounts, created by compose/rabbitmq/init-users.sh exactly as the compose
/// `rabbitmq-init` service does (here against the private cluster): the worker runs with its least-privilege
/// account and never logs its password; one service's account cannot touch another's queues or vhost.
/// </summary>
[Collection(LocalRabbitMqClusterCollection.Name)]
public sealed class SecurityTests(LocalRabbitMqCluster cluster, PostgresTestDatabase database) : IClassFixture<PostgresTestDatabase>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task WorkerWithItsLeastPrivilegeAccount_RunsStartWorkloadFailureStop_AndNeverLogsItsPassword()
    {
        var ct = TestContext.Current.CancellationToken;
        var accounts = await CreateAccountsAsync(ct);
        try
        {
            var ledger = new OrderLedger();
            var logs = new RecordingLoggerProvider();
            var broker = LocalRabbitMqCluster.AmqpUri(1, accounts.Vhost, accounts.WorkerUser, accounts.WorkerPassword);
            using var host = ClusterSampleHost.Build(broker, database, ledger, new Dictionary<string, string?>
            {
                ["Workers:ShutdownTimeout"] = "00:00:05",
                ["Sample:Payment:LatencyMs"] = "1",
            }, logs);
            await host.StartAsync(ct);

            var bus = host.Services.GetRequiredService<IBus>();
            var orders = Orders(40);
            await Task.WhenAll(orders.Select(o => bus.Publish(o, ct)));
            var rejected = new SubmitOrder(Guid.NewGuid(), "customer-bad", 0m); // a permanent failure: dead-lettered.
            await bus.Publish(rejected, ct);
            await Eventually.HoldsAsync(() => orders.All(o => ledger.NotifiedOrders.ContainsKey(o.OrderId)) && ledger.Attempts.ContainsKey(rejected.OrderId), Bound, "the workload and the failing order consumed", TestContext.Current.CancellationToken);

            // A broker-side failure: the node the worker is connected to stops. The worker logs the lost connection
            // (the log path most likely to print a broker address) and starts reconnecting with the same credentials.
            var node = await ClusterSampleHost.ConnectedNodeAsync(cluster, accounts.Vhost, Bound, ct);
            var problemsBefore = Problems(logs);
            await cluster.StopNodeAsync(node, ct);
            try
            {
                await Eventually.HoldsAsync(() => Problems(logs) > problemsBefore, Bound, "the worker logging the lost connection", TestContext.Current.CancellationToken);
            }
            finally
            {
                await cluster.StartNodeAsync(node, ct);
            }

            await host.StopAsync(ct);

            var entries = logs.Entries.ToList();
            Assert.True(entries.Count > 50, $"the log capture must see the host's activity (saw {entries.Count} entries)");
            TestContext.Current.TestOutputHelper?.WriteLine($"{entries.Count} log entries captured, {entries.Count(e => e.StartsWith("Warning", StringComparison.Ordinal) || e.StartsWith("Error", StringComparison.Ordinal))} warnings or errors, {entries.Count(e => e.Contains(rejected.OrderId.ToString(), StringComparison.Ordinal))} naming the rejected order");
            var leaks = entries.Where(e => e.Contains(accounts.WorkerPassword, StringComparison.Ordinal)).ToList();
            Assert.True(leaks.Count == 0, $"the password appeared in {leaks.Count} log entries, first: {leaks.FirstOrDefault()}");
            Assert.DoesNotContain(entries, e => e.Contains(Uri.EscapeDataString(accounts.WorkerPassword), StringComparison.Ordinal));
        }
        finally
        {
            await DeleteUsersAsync(accounts);
        }
    }

    [Fact]
    public async Task AnotherServicesAccount_IsRefusedOnForeignQueuesAndVhosts()
    {
        var ct = TestContext.Current.CancellationToken;
        var accounts = await CreateAccountsAsync(ct);
        var foreignVhost = await cluster.CreateVhostAsync(ct);
        try
        {
            // The worker's queue exists (declared by the operator account here, by the workers in production).
            using (var setup = await Connect(LocalRabbitMqCluster.AmqpUri(1, accounts.Vhost), ct))
            {
                await using var channel = await setup.CreateChannelAsync(cancellationToken: ct);
                await channel.QueueDeclareAsync(SampleHost.OrdersQueue, durable: true, exclusive: false, autoDelete: false, cancellationToken: ct);
                await channel.QueueDeclareAsync(SampleHost.OrdersQueue + "_error", durable: true, exclusive: false, autoDelete: false, cancellationToken: ct);
            }

            // The CLI's account: may read dead letters, may not consume the workers' queue nor declare anything.
            using (var cli = await Connect(LocalRabbitMqCluster.AmqpUri(1, accounts.Vhost, accounts.CliUser, accounts.CliPassword), ct))
            {
                await using (var allowed = await cli.CreateChannelAsync(cancellationToken: ct))
                {
                    Assert.Null(await allowed.BasicGetAsync(SampleHost.OrdersQueue + "_error", autoAck: false, ct));
                }

                await AssertAccessRefused(cli, c => c.BasicGetAsync(SampleHost.OrdersQueue, autoAck: false, ct));
                await AssertAccessRefused(cli, c => c.QueueDeclareAsync("cli-owned-queue", durable: true, exclusive: false, autoDelete: false, cancellationToken: ct));
            }

            // The worker's account: its own topology only.
            using (var worker = await Connect(LocalRabbitMqCluster.AmqpUri(1, accounts.Vhost, accounts.WorkerUser, accounts.WorkerPassword), ct))
            {
                await using (var allowed = await worker.CreateChannelAsync(cancellationToken: ct))
                {
                    Assert.Null(await allowed.BasicGetAsync(SampleHost.OrdersQueue, autoAck: false, ct));
                }

                await AssertAccessRefused(worker, c => c.QueueDeclareAsync("billing-invoices", durable: true, exclusive: false, autoDelete: false, cancellationToken: ct));
                await AssertAccessRefused(worker, c => c.ExchangeDeclareAsync("Billing.Contracts:Invoice", ExchangeType.Fanout, durable: true, cancellationToken: ct));
            }

            // Another service's vhost: refused, at connection.open (530 NOT_ALLOWED) or at the first operation (403).
            using (var setup = await Connect(LocalRabbitMqCluster.AmqpUri(1, foreignVhost), ct))
            {
                await using var channel = await setup.CreateChannelAsync(cancellationToken: ct);
                await channel.QueueDeclareAsync("billing-invoices", durable: true, exclusive: false, autoDelete: false, cancellationToken: ct);
            }

            // RabbitMQ refuses the vhost in reply to connection.open (530 NOT_ALLOWED); the client surfaces it on the
            // connection's first use.
            var foreign = LocalRabbitMqCluster.AmqpUri(1, foreignVhost, accounts.WorkerUser, accounts.WorkerPassword);
            var refused = await Assert.ThrowsAnyAsync<Exception>(async () =>
            {
                using var opened = await Connect(foreign, ct);
                await using var channel = await opened.CreateChannelAsync(cancellationToken: ct);
                await channel.BasicGetAsync("billing-invoices", autoAck: false, ct);
            });
            Assert.Contains("NOT_ALLOWED - access to vhost", Flatten(refused), StringComparison.Ordinal);
            Assert.DoesNotContain(accounts.WorkerPassword, Flatten(refused), StringComparison.Ordinal);

            // And a wrong password is refused (403 ACCESS_REFUSED at login).
            var wrong = await Assert.ThrowsAnyAsync<Exception>(() => Connect(LocalRabbitMqCluster.AmqpUri(1, accounts.Vhost, accounts.WorkerUser, "not-the-password"), ct));
            Assert.Contains("ACCESS_REFUSED", Flatten(wrong), StringComparison.Ordinal);
        }
        finally
        {
            await DeleteUsersAsync(accounts);
        }
    }

    private async Task<Accounts> CreateAccountsAsync(CancellationToken ct)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var accounts = new Accounts($"orders-{id}", $"orders-worker-{id}", "pw-" + Guid.NewGuid().ToString("N"), $"workers-cli-{id}", "pw-" + Guid.NewGuid().ToString("N"));
        cluster.TrackVhost(accounts.Vhost);
        var script = Path.Combine(cluster.RepositoryRoot, "compose", "rabbitmq", "init-users.sh");
        var output = await LocalRabbitMqCluster.RunAsync("bash", [script], TimeSpan.FromSeconds(120), ct, new Dictionary<string, string>
        {
            ["RABBITMQ_NODE"] = cluster.NodeName(1),
            ["WORKERS_VHOST"] = accounts.Vhost,
            ["WORKER_USER"] = accounts.WorkerUser,
            ["WORKER_PASSWORD"] = accounts.WorkerPassword,
            ["CLI_USER"] = accounts.CliUser,
            ["CLI_PASSWORD"] = accounts.CliPassword,
            ["ADMIN_USER"] = "guest",
            // The tests' fixture logs in as guest (loopback only); a compose deployment deletes it.
            ["KEEP_GUEST"] = "1",
        });
        Assert.DoesNotContain(accounts.WorkerPassword, output, StringComparison.Ordinal);
        Assert.DoesNotContain(accounts.CliPassword, output, StringComparison.Ordinal);
        return accounts;
    }

    private static async Task DeleteUsersAsync(Accounts accounts)
    {
        using var management = LocalRabbitMqCluster.Management(1);
        foreach (var user in new[] { accounts.WorkerUser, accounts.CliUser })
        {
            using var _ = await management.DeleteAsync($"api/users/{Uri.EscapeDataString(user)}");
        }
    }

    private static int Problems(RecordingLoggerProvider logs) =>
        logs.Entries.Count(e => e.StartsWith("Warning", StringComparison.Ordinal) || e.StartsWith("Error", StringComparison.Ordinal) || e.StartsWith("Critical", StringComparison.Ordinal));

    private static Task<IConnection> Connect(Uri uri, CancellationToken ct) =>
        new ConnectionFactory { Uri = uri, AutomaticRecoveryEnabled = false, ClientProvidedName = "workers-security-tests" }.CreateConnectionAsync(ct);

    private static async Task AssertAccessRefused(IConnection connection, Func<IChannel, Task> action)
    {
        await using var channel = await connection.CreateChannelAsync();
        var error = await Assert.ThrowsAsync<OperationInterruptedException>(() => action(channel));
        Assert.Equal((ushort)403, error.ShutdownReason?.ReplyCode);
        Assert.Contains("ACCESS_REFUSED", error.ShutdownReason?.ReplyText, StringComparison.Ordinal);
    }

    private static string Flatten(Exception exception)
    {
        var text = new List<string>();
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            text.Add(e.Message);
            if (e is OperationInterruptedException { ShutdownReason: { } reason })
            {
                text.Add(reason.ToString());
            }
        }

        return string.Join(" | ", text);
    }

    private static List<SubmitOrder> Orders(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new SubmitOrder(Guid.NewGuid(), $"customer-{i}", 10m + i))];

    private sealed record Accounts(string Vhost, string WorkerUser, string WorkerPassword, string CliUser, string CliPassword);
}
