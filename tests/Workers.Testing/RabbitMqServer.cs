using System.Net.Http.Headers;
using System.Text;
using Testcontainers.RabbitMq;

namespace Workers.Testing;

/// <summary>
/// The broker the tests talk to: the configured one, or a container started once per test process.
/// </summary>
public static class RabbitMqServer
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static (Uri Amqp, Uri Management)? endpoints;
    private static RabbitMqContainer? container;

    /// <summary>The broker's AMQP URI (root vhost) and management URI (with credentials).</summary>
    public static async Task<(Uri Amqp, Uri Management)> GetAsync(CancellationToken cancellationToken = default)
    {
        if (endpoints is { } known)
        {
            return known;
        }

        await Gate.WaitAsync(cancellationToken);
        try
        {
            if (endpoints is { } again)
            {
                return again;
            }

            var amqp = TestEnvironment.Get(TestEnvironment.RabbitMqUriVariable);
            if (amqp is not null)
            {
                var amqpUri = new Uri(amqp);
                var management = TestEnvironment.Get(TestEnvironment.RabbitMqManagementUriVariable)
                    ?? $"http://{amqpUri.UserInfo}@{amqpUri.Host}:{amqpUri.Port + 10000}/";
                endpoints = (amqpUri, new Uri(management));
                return endpoints.Value;
            }

            if (!TestEnvironment.DockerAvailable())
            {
                throw TestEnvironment.Missing("RabbitMQ broker", TestEnvironment.RabbitMqUriVariable);
            }

            container = new RabbitMqBuilder("rabbitmq:3.13-management").WithPortBinding(15672, true).Build();
            await container.StartAsync(cancellationToken);
            var uri = new Uri(container.GetConnectionString());
            var mgmt = new Uri($"http://{uri.UserInfo}@{container.Hostname}:{container.GetMappedPublicPort(15672)}/");
            endpoints = (uri, mgmt);
            return endpoints.Value;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>An HTTP client for the management API, authenticated with the URI's credentials.</summary>
    public static HttpClient CreateManagementClient(Uri management)
    {
        ArgumentNullException.ThrowIfNull(management);
        var client = new HttpClient { BaseAddress = new Uri(management.GetLeftPart(UriPartial.Authority)), Timeout = TimeSpan.FromSeconds(30) };
        var userInfo = Uri.UnescapeDataString(management.UserInfo);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(userInfo)));
        return client;
    }
}
