using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Workers.Postgres.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Inbox;

/// <summary>A consumer's exception is one attempt: the execution strategy never re-runs user code (issue 19.1).</summary>
public sealed class InboxConsumerFailureTests(PostgresTestDatabase database) : IClassFixture<PostgresTestDatabase>
{
    private const int MaxRedeliveryAttempts = 2;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ConsumerThrowingTransientError_RunsOncePerAttempt(bool npgsql)
    {
        await WorkerHost.CreateSchemaAsync(database.ConnectionString, Ct);
        var probe = new FailureProbe { Npgsql = npgsql, UnreachableDatabase = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Port = 1, Timeout = 1, Pooling = false }.ConnectionString };
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton(probe);
        builder.Services.AddDbContext<TestDb>(o => o.UseWorkersPostgres(database.ConnectionString));
        builder.Services.AddWorkersInbox<TestDb>();
        builder.Services.AddMassTransit(x =>
        {
            x.AddConsumer<TimingOutConsumer>();
            x.AddConsumer<FaultConsumer>();
            x.UsingInMemory((context, cfg) =>
            {
                cfg.ReceiveEndpoint("timing-out", e =>
                {
                    e.UseMessageRetry(r => r.Immediate(MaxRedeliveryAttempts));
                    e.UseWorkersInbox(context);
                    e.ConfigureConsumer<TimingOutConsumer>(context);
                });
                cfg.ReceiveEndpoint("timing-out-faults", e => e.ConfigureConsumer<FaultConsumer>(context));
            });
        });
        using var host = builder.Build();
        await host.StartAsync(Ct);
        try
        {
            var run = Guid.NewGuid();
            await host.Services.GetRequiredService<IBus>().Publish(new OrderPlaced(run, 1), Ct);

            await Eventually.HoldsAsync(() => probe.Faults > 0, TimeSpan.FromSeconds(60), "the fault after the last attempt", Ct);

            Assert.Equal(MaxRedeliveryAttempts + 1, probe.Invocations);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    internal sealed class FailureProbe
    {
        private int invocations;
        private int faults;

        public bool Npgsql { get; init; }

        public required string UnreachableDatabase { get; init; }

        public int Invocations => Volatile.Read(ref invocations);

        public int Faults => Volatile.Read(ref faults);

        public void Invoked() => Interlocked.Increment(ref invocations);

        public void Faulted() => Interlocked.Increment(ref faults);
    }

    internal sealed class TimingOutConsumer(FailureProbe probe) : IConsumer<OrderPlaced>
    {
        public async Task Consume(ConsumeContext<OrderPlaced> context)
        {
            probe.Invoked();
            if (!probe.Npgsql)
            {
                throw new TimeoutException("the consumer's own downstream call timed out");
            }

            // A transient NpgsqlException from a second connection of the consumer's own.
            await using var other = new NpgsqlConnection(probe.UnreachableDatabase);
            await other.OpenAsync(context.CancellationToken);
        }
    }

    internal sealed class FaultConsumer(FailureProbe probe) : IConsumer<Fault<OrderPlaced>>
    {
        public Task Consume(ConsumeContext<Fault<OrderPlaced>> context)
        {
            probe.Faulted();
            return Task.CompletedTask;
        }
    }
}
