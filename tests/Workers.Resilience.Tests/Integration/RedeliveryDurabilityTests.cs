using System.Diagnostics;
using MassTransit;
using Workers.Resilience.Redelivery;
using Workers.Testing;
using Xunit;

namespace Workers.Resilience.Tests.Integration;

/// <summary>
/// The private broker node of the redelivery tests (ports 5681 / 25681), stopped and started by the tests; RabbitMQ 4.0
/// from the Debian 13 root in the 4.0 run (<see cref="RabbitMqRuntime.VersionVariable"/>; node redeliv4, 5682 / 25682).
/// </summary>
public sealed class RedeliveryBrokerNode : RabbitMqPrivateNode
{
    /// <summary>Creates the node description.</summary>
    public RedeliveryBrokerNode()
        : this(RabbitMqRuntime.FromEnvironment())
    {
    }

    private RedeliveryBrokerNode(RabbitMqRuntime runtime)
        : base(runtime.Version == "4.0" ? "redeliv4" : "redeliv", amqpPort: runtime.Version == "4.0" ? 5682 : 5681, distPort: runtime.Version == "4.0" ? 25682 : 25681, runtime)
    {
    }
}

/// <summary>A redelivery pending in the delay ladder survives a worker crash and a broker restart (private node).</summary>
public sealed class RedeliveryDurabilityTests : IClassFixture<RedeliveryBrokerNode>
{
    private readonly RedeliveryBrokerNode node;

    public RedeliveryDurabilityTests(RedeliveryBrokerNode node) => this.node = node;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PendingRedelivery_SurvivesWorkerCrash_AndUnackedMessageIsNotLost()
    {
        var queue = Unique("crash");
        var options = new RedeliveryOptions { Delay = TimeSpan.FromSeconds(2), MaxDelay = TimeSpan.FromSeconds(10) };
        var delayedId = NewId.NextGuid();
        var inFlightId = NewId.NextGuid();
        var inFlightStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firstWorker = new AttemptRecorder { DefaultFailTimes = int.MaxValue };
        using var meter = new WorkersMeterProbe();

        // The crashing worker connects as a user of its own: deleting the user cuts its connections and refuses its
        // reconnections, as if the process were gone (MassTransit would otherwise reconnect and carry on).
        var workerUser = $"worker-{Guid.NewGuid():N}"[..15];
        var workerUri = await node.AddUserAsync(workerUser, "crash-test", Token);
        var bus1 = await TestBus.StartAsync(workerUri, (cfg, ctx) => cfg.ReceiveEndpoint(queue, e =>
        {
            e.UseWorkersRedelivery(ctx, options);
            e.Handler<RedeliveryProbe>(async context =>
            {
                if (context.MessageId == inFlightId)
                {
                    inFlightStarted.TrySetResult();
                    await release.Task; // the worker hangs with the message unacked
                    return;
                }

                if (context.GetWorkersRedeliveryCount() > 0)
                {
                    // Should the redelivery come back before the crash, this worker hangs on it too: unacked, it is not lost.
                    await release.Task;
                    return;
                }

                await firstWorker.ConsumeAsync(context);
            });
        }), Token);
        try
        {
            await bus1.SendAsync(queue, new RedeliveryProbe("delayed"), delayedId);
            await meter.WaitAsync(RedeliveryDiagnostics.ScheduledName, queue, 1, TimeSpan.FromSeconds(15));
            await bus1.SendAsync(queue, new RedeliveryProbe("in flight"), inFlightId);
            await inFlightStarted.Task.WaitAsync(TimeSpan.FromSeconds(15), Token);

            // Crash: the worker vanishes while one message is unacked and another waits in the delay ladder.
            await node.DeleteUserAsync(workerUser, Token);

            var secondWorker = new AttemptRecorder();
            await using var bus2 = await TestBus.StartAsync(node.Uri, (cfg, ctx) => cfg.ReceiveEndpoint(queue, e =>
            {
                e.UseWorkersRedelivery(ctx, options);
                e.Handler<RedeliveryProbe>(secondWorker.ConsumeAsync);
            }), Token);

            var requeued = await secondWorker.WaitForSuccessAsync(inFlightId, TimeSpan.FromSeconds(30));
            var redelivered = await secondWorker.WaitForSuccessAsync(delayedId, TimeSpan.FromSeconds(30));
            Assert.Equal(1, Assert.Single(redelivered).RedeliveryCount);
            Assert.Equal(delayedId, redelivered[0].MessageId);
            Assert.Equal(0, Assert.Single(requeued).RedeliveryCount);
            Assert.Single(firstWorker.AttemptsOf(delayedId));
            Assert.Equal(1, meter.Count(RedeliveryDiagnostics.ScheduledName, queue));
        }
        finally
        {
            release.TrySetResult();
            try
            {
                await bus1.DisposeAsync();
            }
            catch (Exception ex) when (ex is OperationCanceledException or MassTransitException)
            {
                // the crashed worker cannot stop cleanly: its broker user is gone.
            }
        }
    }

    [Fact]
    public async Task PendingRedelivery_SurvivesBrokerRestart()
    {
        var queue = Unique("restart");
        var options = new RedeliveryOptions { Delay = TimeSpan.FromSeconds(3), MaxDelay = TimeSpan.FromSeconds(10) };
        var id = NewId.NextGuid();
        var correlation = NewId.NextGuid();
        var firstWorker = new AttemptRecorder { DefaultFailTimes = int.MaxValue };
        using var meter = new WorkersMeterProbe();

        var bus1 = await TestBus.StartAsync(node.Uri, (cfg, ctx) => cfg.ReceiveEndpoint(queue, e =>
        {
            e.UseWorkersRedelivery(ctx, options);
            e.Handler<RedeliveryProbe>(firstWorker.ConsumeAsync);
        }), Token);
        await bus1.SendAsync(queue, new RedeliveryProbe("survivor"), id, correlation, tenant: "acme");
        await meter.WaitAsync(RedeliveryDiagnostics.ScheduledName, queue, 1, TimeSpan.FromSeconds(15));
        var scheduledAt = Stopwatch.StartNew();
        await bus1.DisposeAsync();

        await node.StopAsync(Token);
        await node.StartAsync(Token);
        // With no client connected, the message resurfaces by itself: in a ladder queue or, once its TTLs expired, in the
        // destination queue. (Right after a restart a quorum queue may still be recovering its log or hold the message as
        // an unconfirmed dead-letter, which the counters do not show: poll.)
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var pending = Math.Max(0, await RawAmqp.CountAsync(node.Uri, queue));
            for (var level = 0; level < DelayLadder.Levels; level++)
            {
                pending += Math.Max(0, await RawAmqp.CountAsync(node.Uri, DelayLadder.LevelName(level)));
            }

            if (pending == 1)
            {
                break;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"{pending} messages pending after the restart, expected 1");
            await Task.Delay(200, Token);
        }

        var secondWorker = new AttemptRecorder();
        await using var bus2 = await TestBus.StartAsync(node.Uri, (cfg, ctx) => cfg.ReceiveEndpoint(queue, e =>
        {
            e.UseWorkersRedelivery(ctx, options);
            e.Handler<RedeliveryProbe>(secondWorker.ConsumeAsync);
        }), Token);

        var attempt = Assert.Single(await secondWorker.WaitForSuccessAsync(id, TimeSpan.FromSeconds(30)));
        Assert.Equal(1, attempt.RedeliveryCount);
        Assert.Equal(correlation, attempt.CorrelationId);
        Assert.Equal("acme", attempt.Tenant);
        Assert.Equal(firstWorker.AttemptsOf(id)[0].Body, attempt.Body);
        Assert.True(scheduledAt.Elapsed >= TimeSpan.FromSeconds(3) - TimeSpan.FromMilliseconds(20), "the delay was kept");
    }

    private static string Unique(string name) => $"{name}-{Guid.NewGuid():N}"[..(name.Length + 9)];
}
