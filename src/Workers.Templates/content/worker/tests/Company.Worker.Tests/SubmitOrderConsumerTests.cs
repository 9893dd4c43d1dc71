using Company.Worker.Orders;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Company.Worker.Tests;

/// <summary>The consumer on MassTransit's in-memory test harness: no broker needed.</summary>
public sealed class SubmitOrderConsumerTests
{
    [Fact]
    public async Task ValidOrder_IsConsumed()
    {
        await using var provider = Harness();
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();

        await harness.Bus.Publish(new SubmitOrder(Guid.NewGuid(), "customer-1", 12.5m), TestContext.Current.CancellationToken);

        var consumer = harness.GetConsumerHarness<SubmitOrderConsumer>();
        Assert.True(await consumer.Consumed.Any<SubmitOrder>(TestContext.Current.CancellationToken));
        Assert.False(await harness.Published.Any<Fault<SubmitOrder>>(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task OrderWithoutAmount_Faults_WithAnArgumentException()
    {
        await using var provider = Harness();
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();

        await harness.Bus.Publish(new SubmitOrder(Guid.NewGuid(), "customer-1", 0m), TestContext.Current.CancellationToken);

        var fault = harness.Published.Select<Fault<SubmitOrder>>(TestContext.Current.CancellationToken).FirstOrDefault();
        Assert.NotNull(fault);
        Assert.Contains(fault.Context.Message.Exceptions, e => e.ExceptionType == typeof(ArgumentOutOfRangeException).FullName);
    }

    private static ServiceProvider Harness() => new ServiceCollection()
        .AddLogging()
        .AddMassTransitTestHarness(x => x.AddConsumer<SubmitOrderConsumer>())
        .BuildServiceProvider(true);
}
