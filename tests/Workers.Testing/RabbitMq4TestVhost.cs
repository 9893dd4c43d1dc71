using Xunit;

namespace Workers.Testing;

/// <summary>
/// A vhost of its own on the RabbitMQ 4.0 node (<see cref="UriVariable"/>, started by
/// <c>scripts/services.sh rabbitmq4-up</c>), for the tests of what changed in RabbitMQ 4 (the quorum queues'
/// default delivery limit). Use as <c>IClassFixture&lt;RabbitMq4TestVhost&gt;</c>; a test skips itself with
/// <see cref="SkipReason"/> (<c>Assert.Skip</c>) when <see cref="Vhost"/> is null: no 4.0 node is configured.
/// </summary>
public sealed class RabbitMq4TestVhost : IAsyncLifetime
{
    /// <summary>AMQP URI of the RabbitMQ 4.0 node.</summary>
    public const string UriVariable = "WORKERS_RABBITMQ4_URI";

    /// <summary>Management API URI of the RabbitMQ 4.0 node, with credentials.</summary>
    public const string ManagementUriVariable = "WORKERS_RABBITMQ4_MANAGEMENT_URI";

    private RabbitMqTestVhost? vhost;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        var amqp = TestEnvironment.Get(UriVariable);
        if (amqp is null)
        {
            return;
        }

        var management = TestEnvironment.Get(ManagementUriVariable)
            ?? throw new InvalidOperationException($"{UriVariable} is set but {ManagementUriVariable} is not: export both (scripts/services.sh env).");
        vhost = new RabbitMqTestVhost(() => Task.FromResult((new Uri(amqp), new Uri(management))));
        await vhost.InitializeAsync();
    }

    /// <summary>Why a test on the 4.0 node is skipped.</summary>
    public const string SkipReason =
        "No RabbitMQ 4.0 node: " + UriVariable + " is not set (scripts/services.sh rabbitmq4-up && eval \"$(scripts/services.sh env)\").";

    /// <summary>The vhost on the 4.0 node, or null when none is configured.</summary>
    public RabbitMqTestVhost? Vhost => vhost;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (vhost is not null)
        {
            await vhost.DisposeAsync();
        }
    }
}
