using Workers.Testing;
using Xunit;

namespace Workers.Cli.Tests.Support;

/// <summary>
/// Base of the test classes that run the command against the broker: each derived class gets a vhost of its own
/// (created before its first test, deleted with everything in it after its last) and a connection to it per test.
/// </summary>
public abstract class BrokerTestClass : IClassFixture<RabbitMqTestVhost>, IAsyncLifetime
{
    private TestBroker? broker;

    /// <summary>Takes the class's vhost fixture.</summary>
    protected BrokerTestClass(RabbitMqTestVhost vhost)
    {
        Vhost = vhost;
    }

    /// <summary>The class's own vhost.</summary>
    protected RabbitMqTestVhost Vhost { get; }

    /// <summary>Raw AMQP helpers and a MassTransit bus on <see cref="Vhost"/>, connected for the running test.</summary>
    private protected TestBroker Broker => broker ?? throw new InvalidOperationException("The broker connection is opened when the test starts.");

    /// <inheritdoc />
    public async ValueTask InitializeAsync() => broker = await TestBroker.ConnectAsync(Vhost);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (broker is not null)
        {
            await broker.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }
}
