using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Workers.Resilience.Tests.Integration;
using Xunit;

namespace Workers.Resilience.Tests.Redelivery;

/// <summary>The filter's in-process part (immediate retries), on MassTransit's in-memory transport: no services.</summary>
public class RedeliveryFilterTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ImmediateRetries_WaitOnTheTimeProvider_ThenSucceed()
    {
        var fake = new FakeTimeProvider();
        var time = new ObservedTimeProvider(fake);
        var attempts = 0;
        var attempted = new SemaphoreSlim(0);
        var succeeded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var services = Services(time);
        var bus = Bus.Factory.CreateUsingInMemory(cfg => cfg.ReceiveEndpoint("immediate", e =>
        {
            e.UseWorkersRedelivery(services, new RedeliveryOptions { ImmediateRetries = 2, ImmediateRetryDelay = TimeSpan.FromSeconds(1) });
            e.Handler<RedeliveryProbe>(_ =>
            {
                var attempt = Interlocked.Increment(ref attempts);
                attempted.Release();
                if (attempt < 3)
                {
                    throw new TimeoutException("transient");
                }

                succeeded.TrySetResult();
                return Task.CompletedTask;
            });
        }));
        await bus.StartAsync(Token);
        try
        {
            await (await bus.GetSendEndpoint(new Uri("queue:immediate"))).Send(new RedeliveryProbe("x"), Token);

            for (var retry = 1; retry <= 2; retry++)
            {
                Assert.True(await attempted.WaitAsync(TimeSpan.FromSeconds(10), Token));
                Assert.True(await time.TimerCreated.WaitAsync(TimeSpan.FromSeconds(10), Token), "the retry never waited on the time provider");
                fake.Advance(TimeSpan.FromMilliseconds(999));
                Assert.Equal(retry, Volatile.Read(ref attempts)); // not yet: the retry waits the whole second
                fake.Advance(TimeSpan.FromMilliseconds(1));
            }

            await succeeded.Task.WaitAsync(TimeSpan.FromSeconds(10), Token);
            Assert.Equal(3, attempts);
        }
        finally
        {
            fake.Advance(TimeSpan.FromMinutes(1)); // release any retry still waiting, so that the bus can stop
            await bus.StopAsync(Token);
        }
    }

    [Fact]
    public async Task PermanentFailure_IsNotRetriedImmediately()
    {
        var attempts = 0;
        var faulted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var services = Services(new FakeTimeProvider());
        var bus = Bus.Factory.CreateUsingInMemory(cfg => cfg.ReceiveEndpoint("permanent-immediate", e =>
        {
            e.UseWorkersRedelivery(services, new RedeliveryOptions { ImmediateRetries = 5 });
            e.Handler<RedeliveryProbe>(_ =>
            {
                Interlocked.Increment(ref attempts);
                throw new PermanentFailureException("never");
            });
            e.Handler<Fault<RedeliveryProbe>>(_ =>
            {
                faulted.TrySetResult();
                return Task.CompletedTask;
            });
        }));
        await bus.StartAsync(Token);
        try
        {
            await (await bus.GetSendEndpoint(new Uri("queue:permanent-immediate"))).Send(new RedeliveryProbe("x"), Token);

            // Not on RabbitMQ: the failure is left to MassTransit's own error handling, which publishes the fault.
            await faulted.Task.WaitAsync(TimeSpan.FromSeconds(10), Token);
            Assert.Equal(1, attempts);
        }
        finally
        {
            await bus.StopAsync(Token);
        }
    }

    private static ServiceProvider Services(TimeProvider time)
    {
        var services = new ServiceCollection();
        services.AddSingleton(time);
        services.AddWorkersRedelivery(new Uri("amqp://guest:guest@127.0.0.1:1/"));
        return services.BuildServiceProvider();
    }

    /// <summary>A fake clock that signals each timer created on it (the filter's retry delay).</summary>
    private sealed class ObservedTimeProvider(FakeTimeProvider inner) : TimeProvider
    {
        public SemaphoreSlim TimerCreated { get; } = new(0);

        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

        public override long GetTimestamp() => inner.GetTimestamp();

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = inner.CreateTimer(callback, state, dueTime, period);
            TimerCreated.Release();
            return timer;
        }
    }
}
