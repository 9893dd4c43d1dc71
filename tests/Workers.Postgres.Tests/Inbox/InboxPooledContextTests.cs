using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Workers.Postgres.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Inbox;

/// <summary>
/// The inbox on a pooled DbContext (<c>AddDbContextPool</c>, the <c>UsePostgres</c> default): one context instance
/// serves message after message, and still a failed attempt's tracked entities never reach another commit, every
/// message's effect commits once, and a duplicate is absorbed.
/// </summary>
public sealed class InboxPooledContextTests(PostgresTestDatabase database) : IClassFixture<PostgresTestDatabase>
{
    private const int Messages = 6;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PooledContext_FailedAttemptsLeaveNoEffects_AndDuplicatesAreAbsorbed()
    {
        await WorkerHost.CreateSchemaAsync(database.ConnectionString, Ct);
        var probe = new PoolProbe();
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton(probe);
        builder.Services.AddDbContextPool<TestDb>(o => o.UseWorkersPostgres(database.ConnectionString));
        builder.Services.AddWorkersInbox<TestDb>();
        builder.Services.AddMassTransit(x =>
        {
            x.AddConsumer<FailingOnceConsumer>();
            x.UsingInMemory((context, cfg) =>
            {
                cfg.ReceiveEndpoint("pooled", e =>
                {
                    e.ConcurrentMessageLimit = 1; // one message at a time: the pool hands the same context back
                    e.UseMessageRetry(r => r.Immediate(1));
                    e.UseWorkersInbox(context);
                    e.ConfigureConsumer<FailingOnceConsumer>(context);
                });
            });
        });
        using var host = builder.Build();
        await host.StartAsync(Ct);
        try
        {
            var run = Guid.NewGuid();
            var endpoint = await host.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri("queue:pooled"));
            var ids = Enumerable.Range(0, Messages).Select(_ => NewId.NextGuid()).ToList();
            for (var number = 0; number < Messages; number++)
            {
                var id = ids[number];
                await endpoint.Send(new OrderPlaced(run, number), c => c.MessageId = id, Ct);
            }

            await Eventually.HoldsAsync(() => probe.Succeeded == Messages, TimeSpan.FromSeconds(60), "every message consumed", Ct);
            await endpoint.Send(new OrderPlaced(run, 0), c => c.MessageId = ids[0], Ct); // a redelivered duplicate
            await Eventually.HoldsAsync(async () => await DuplicatesAsync(ids[0]) == 1, TimeSpan.FromSeconds(60), "the duplicate absorbed by the inbox", Ct);

            Assert.Equal(Messages + Messages / 2, probe.Attempts); // odd numbers failed once, the duplicate never ran
            Assert.True(probe.Contexts < probe.Attempts, $"expected pooled contexts to be reused, saw {probe.Contexts} instances for {probe.Attempts} attempts");
            var effects = await EffectsAsync(run);
            Assert.Equal(Enumerable.Range(0, Messages), effects.Order());
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    private async Task<List<int>> EffectsAsync(Guid run)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("select number from effects where run = $1", connection) { Parameters = { new() { Value = run } } };
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var numbers = new List<int>();
        while (await reader.ReadAsync(Ct))
        {
            numbers.Add(reader.GetInt32(0));
        }

        return numbers;
    }

    private async Task<int> DuplicatesAsync(Guid messageId)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("select coalesce(max(duplicates), 0) from workers_inbox where message_id = $1", connection) { Parameters = { new() { Value = messageId } } };
        return Convert.ToInt32(await command.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture);
    }

    internal sealed class PoolProbe
    {
        private readonly ConcurrentDictionary<int, int> attemptsByNumber = new();
        private readonly ConcurrentDictionary<int, bool> contexts = new();
        private int attempts;
        private int succeeded;

        public int Attempts => Volatile.Read(ref attempts);

        public int Succeeded => Volatile.Read(ref succeeded);

        public int Contexts => contexts.Count;

        /// <summary>Records an attempt; true when this one must fail (the first attempt of an odd number).</summary>
        public bool Attempt(int number, DbContext context)
        {
            Interlocked.Increment(ref attempts);
            contexts.TryAdd(RuntimeHelpers.GetHashCode(context), true);
            return attemptsByNumber.AddOrUpdate(number, 1, (_, n) => n + 1) == 1 && number % 2 == 1;
        }

        public void Succeed() => Interlocked.Increment(ref succeeded);
    }

    /// <summary>Adds its effect, then fails the first attempt of odd numbers: that attempt's tracked effect must never commit.</summary>
    internal sealed class FailingOnceConsumer(TestDb db, PoolProbe probe) : IConsumer<OrderPlaced>
    {
        public Task Consume(ConsumeContext<OrderPlaced> context)
        {
            db.Effects.Add(new Effect { Run = context.Message.Run, Number = context.Message.Number, MessageId = context.MessageId!.Value });
            if (probe.Attempt(context.Message.Number, db))
            {
                throw new InvalidOperationException($"first attempt of {context.Message.Number} fails");
            }

            probe.Succeed();
            return Task.CompletedTask;
        }
    }
}
