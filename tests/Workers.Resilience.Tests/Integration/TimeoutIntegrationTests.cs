using System.Diagnostics;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Workers.Resilience.Classification;
using Workers.Testing;
using Xunit;

namespace Workers.Resilience.Tests.Integration.Breakers;

public sealed record TimeoutMessage(int Id);

/// <summary>What the timeout consumers saw, shared with the test.</summary>
public sealed class TimeoutProbe
{
    public TaskCompletionSource<TimeSpan> FirstAttemptCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource<int> ConsumedAgain { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource RunawayStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource ReleaseRunaway { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>Hangs on its first attempt until its token is cancelled; succeeds on the redelivery.</summary>
public sealed class HangingConsumer(TimeoutProbe probe) : IConsumer<TimeoutMessage>
{
    public async Task Consume(ConsumeContext<TimeoutMessage> context)
    {
        if (context.GetRedeliveryCount() > 0)
        {
            probe.ConsumedAgain.TrySetResult(context.GetRedeliveryCount());
            return;
        }

        var started = Stopwatch.StartNew();
        try
        {
            await Task.Delay(System.Threading.Timeout.InfiniteTimeSpan, context.CancellationToken);
        }
        catch (OperationCanceledException)
        {
            probe.FirstAttemptCancelled.TrySetResult(started.Elapsed);
            throw;
        }
    }
}

/// <summary>Ignores its token on the first attempt and runs until the test releases it.</summary>
public sealed class StubbornConsumer(TimeoutProbe probe) : IConsumer<TimeoutMessage>
{
    public async Task Consume(ConsumeContext<TimeoutMessage> context)
    {
        if (context.GetRedeliveryCount() > 0)
        {
            probe.ConsumedAgain.TrySetResult(context.GetRedeliveryCount());
            return;
        }

        probe.RunawayStarted.TrySetResult();
        await probe.ReleaseRunaway.Task; // deliberately ignores context.CancellationToken
    }
}

public sealed class TimeoutIntegrationTests(RabbitMqTestVhost vhost, ITestOutputHelper output) : IClassFixture<RabbitMqTestVhost>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task HangingConsumer_IsCancelledAtItsTimeout_AndTheFailureIsRedeliveredAsTransient()
    {
        var ct = TestContext.Current.CancellationToken;
        var probe = new TimeoutProbe();
        var redelivery = new BreakerStandInRedeliveryFilter<TimeoutMessage>(maxRedeliveries: 2);
        const string queue = "timeout-hanging";
        await using var bus = await BreakerTestBus.StartAsync(
            vhost.Uri,
            s => s.AddSingleton(probe),
            x => x.AddConsumer<HangingConsumer>(),
            (context, cfg) => cfg.ReceiveEndpoint(queue, e =>
            {
                e.UseFilter(redelivery);
                e.UseBulkhead<HangingConsumer>(context, o => o.PermitLimit = 2);
                e.UseConsumerTimeout<HangingConsumer>(context, o => o.Timeout = TimeSpan.FromMilliseconds(500));
                e.ConfigureConsumer<HangingConsumer>(context);
            }),
            ct);

        await bus.SendAsync(queue, [new TimeoutMessage(1)], ct);

        var cancelledAfter = await probe.FirstAttemptCancelled.Task.WaitAsync(Wait, ct);
        var redeliveryCount = await probe.ConsumedAgain.Task.WaitAsync(Wait, ct);
        output.WriteLine($"first attempt cancelled after {cancelledAfter.TotalMilliseconds:F0} ms");

        Assert.InRange(cancelledAfter, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(10)); // the timer starts before the consumer is created
        Assert.Equal(1, redeliveryCount);
        var failure = Assert.Single(redelivery.Failures);
        output.WriteLine(failure.ToString());
        Assert.IsType<ConsumerTimeoutException>(failure);
        Assert.Equal(FailureDisposition.Retry, ExceptionClassifier.Default.Classify(failure));
        var snapshot = bus.Services.GetRequiredService<ConsumerTimeoutRegistry>().Find(typeof(HangingConsumer).FullName!);
        Assert.Equal(new ConsumerTimeoutSnapshot(typeof(HangingConsumer).FullName!, TimeSpan.FromMilliseconds(500), 1, 0, 0), snapshot);
        await BreakerTestBus.WaitUntilAsync(() => bus.Services.GetRequiredService<BulkheadRegistry>().Find(typeof(HangingConsumer).FullName!)!.InFlight == 0, Wait, "permit released", ct);
        Assert.Null(await bus.InspectQueueAsync(queue + "_error", ct));
    }

    [Fact]
    public async Task ConsumerIgnoringCancellation_IsReported_AndHoldsItsPermitUntilItReturns()
    {
        var ct = TestContext.Current.CancellationToken;
        var probe = new TimeoutProbe();
        var redelivery = new BreakerStandInRedeliveryFilter<TimeoutMessage>(maxRedeliveries: 2);
        const string queue = "timeout-stubborn";
        await using var bus = await BreakerTestBus.StartAsync(
            vhost.Uri,
            s => s.AddSingleton(probe),
            x => x.AddConsumer<StubbornConsumer>(),
            (context, cfg) => cfg.ReceiveEndpoint(queue, e =>
            {
                e.UseFilter(redelivery);
                e.UseBulkhead<StubbornConsumer>(context, o => { o.PermitLimit = 1; o.QueueLimit = 4; });
                e.UseConsumerTimeout<StubbornConsumer>(context, o => { o.Timeout = TimeSpan.FromMilliseconds(300); o.CancellationGracePeriod = TimeSpan.FromMilliseconds(300); });
                e.ConfigureConsumer<StubbornConsumer>(context);
            }),
            ct);
        var name = typeof(StubbornConsumer).FullName!;
        var timeouts = bus.Services.GetRequiredService<ConsumerTimeoutRegistry>();
        var bulkheads = bus.Services.GetRequiredService<BulkheadRegistry>();

        await bus.SendAsync(queue, [new TimeoutMessage(1)], ct);
        await probe.RunawayStarted.Task.WaitAsync(Wait, ct);

        // The attempt is given up after timeout + grace and redelivered; the redelivered copy waits for the permit
        // that the runaway still holds.
        await BreakerTestBus.WaitUntilAsync(() => bulkheads.Find(name) is { InFlight: 1, Waiting: 1 }, Wait, "redelivered copy waiting for the held permit", ct);
        Assert.Equal(new ConsumerTimeoutSnapshot(name, TimeSpan.FromMilliseconds(300), 1, 1, 1), timeouts.Find(name));
        Assert.IsType<ConsumerTimeoutException>(Assert.Single(redelivery.Failures));
        Assert.False(probe.ConsumedAgain.Task.IsCompleted);

        probe.ReleaseRunaway.SetResult();

        Assert.Equal(1, await probe.ConsumedAgain.Task.WaitAsync(Wait, ct));
        await BreakerTestBus.WaitUntilAsync(() => bulkheads.Find(name) is { InFlight: 0, Waiting: 0 } && timeouts.Find(name)!.StillRunning == 0, Wait, "permit and runaway released", ct);
        Assert.Null(await bus.InspectQueueAsync(queue + "_error", ct));
    }
}
