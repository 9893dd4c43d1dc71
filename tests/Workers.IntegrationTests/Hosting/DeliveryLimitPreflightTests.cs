using System.Net.Http.Json;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Workers.Hosting;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Hosting;

/// <summary>
/// A policy can lower a quorum queue's delivery limit below the unreachable one Workers declares (RabbitMQ 4.0–4.2 then
/// drop a message returned that often; Workers returns messages on purpose). The preflight reads the vhost's policies
/// through the management API and refuses to start, naming the queues and the policy; on both tested broker versions.
/// </summary>
public sealed class DeliveryLimitPreflightTests : IClassFixture<RabbitMqTestVhost>, IClassFixture<RabbitMq4TestVhost>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly RabbitMqTestVhost rabbitmq3;
    private readonly RabbitMq4TestVhost rabbitmq4;

    public DeliveryLimitPreflightTests(RabbitMqTestVhost rabbitmq3, RabbitMq4TestVhost rabbitmq4)
    {
        this.rabbitmq3 = rabbitmq3;
        this.rabbitmq4 = rabbitmq4;
    }

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("3.10")]
    [InlineData("4.0")]
    public async Task PolicyWithALowDeliveryLimit_OnAQuorumEndpoint_RefusesToStart_NamingQueuesAndPolicy(string broker)
    {
        var vhost = Vhost(broker);
        var queue = $"limited-{Guid.NewGuid():N}"[..20];
        var policy = $"poison-guard-{queue}";
        await PutPolicyAsync(vhost, policy, $"^{queue}", 20);
        try
        {
            using var host = BuildHost(vhost, queue, QueueType.Quorum);
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync(Cancel));
            foreach (var expected in new[] { $"queue '{queue}'", $"queue '{queue}_error'", $"queue '{queue}_skipped'", $"policy '{policy}'", "delivery limit 20" })
            {
                Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
            }

            // Refused before the bus started: nothing was declared, nothing consumed.
            Assert.Null(await vhost.GetQueueAsync(queue, Cancel));
        }
        finally
        {
            await DeletePolicyAsync(vhost, policy);
        }
    }

    [Theory]
    [InlineData("3.10")]
    [InlineData("4.0")]
    public async Task PoliciesThatLeaveTheLimitAlone_OrAClassicEndpoint_Start(string broker)
    {
        var vhost = Vhost(broker);
        var quorum = $"roomy-{Guid.NewGuid():N}"[..18];
        var classic = $"classic-{Guid.NewGuid():N}"[..20];
        var policies = new[] { $"high-{quorum}", $"other-{quorum}", $"classic-{quorum}" };
        await PutPolicyAsync(vhost, policies[0], $"^{quorum}", 5_000_000);
        await PutPolicyAsync(vhost, policies[1], "^somebody-else", 20);
        // Classic queues have no delivery limit: a policy naming one is no reason to refuse.
        await PutPolicyAsync(vhost, policies[2], $"^{classic}", 20);
        try
        {
            foreach (var (queue, type) in new[] { (quorum, QueueType.Quorum), (classic, QueueType.Classic) })
            {
                using var host = BuildHost(vhost, queue, type);
                await host.StartAsync(Cancel);
                try
                {
                    await vhost.WaitForQueueAsync(queue, q => q.Consumers == 1, Bound, Cancel);
                }
                finally
                {
                    await host.StopAsync(Cancel);
                }
            }
        }
        finally
        {
            foreach (var name in policies)
            {
                await DeletePolicyAsync(vhost, name);
            }
        }
    }

    private RabbitMqTestVhost Vhost(string broker)
    {
        if (broker == "3.10")
        {
            return rabbitmq3;
        }

        if (rabbitmq4.Vhost is null)
        {
            Assert.Skip(RabbitMq4TestVhost.SkipReason);
        }

        return rabbitmq4.Vhost;
    }

    private static async Task PutPolicyAsync(RabbitMqTestVhost vhost, string name, string pattern, long limit)
    {
        using var response = await vhost.Management.PutAsJsonAsync(
            $"api/policies/{Uri.EscapeDataString(vhost.Name)}/{Uri.EscapeDataString(name)}",
            new Dictionary<string, object> { ["pattern"] = pattern, ["apply-to"] = "queues", ["priority"] = 0, ["definition"] = new Dictionary<string, object> { ["delivery-limit"] = limit } },
            Cancel);
        response.EnsureSuccessStatusCode();
    }

    private static async Task DeletePolicyAsync(RabbitMqTestVhost vhost, string name)
    {
        using var response = await vhost.Management.DeleteAsync($"api/policies/{Uri.EscapeDataString(vhost.Name)}/{Uri.EscapeDataString(name)}", CancellationToken.None);
    }

    private static IHost BuildHost(RabbitMqTestVhost vhost, string queue, QueueType type)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Workers:RabbitMq:Uri"] = vhost.Uri.ToString(),
            ["Workers:RabbitMq:ManagementUri"] = vhost.ManagementUri.ToString(),
            ["Workers:Defaults:QueueType"] = type.ToString(),
        });
        builder.Logging.ClearProviders();
        builder.AddWorkers(w => w.AddConsumer<IdleConsumer>(queue));
        return builder.Build();
    }

    public sealed record LimitedOrder(Guid Id);

    public sealed class IdleConsumer : IConsumer<LimitedOrder>
    {
        public Task Consume(ConsumeContext<LimitedOrder> context) => Task.CompletedTask;
    }
}
