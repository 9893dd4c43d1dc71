using System.Diagnostics;
using JasperFx;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wolverine;
using Wolverine.ErrorHandling;
using Wolverine.Postgresql;
using Wolverine.RabbitMQ;
using Wolverine.Persistence.Durability;
using Wolverine.RDBMS;
using Wolverine.Runtime;
using Workers.Benchmarks.Infrastructure;

namespace Workers.Benchmarks.Contenders;

/// <summary>
/// Wolverine 6.62.0 (WolverineFx.RabbitMQ) set as close to the other contenders' guarantees as it allows:
/// channels with publisher confirmations and confirmation tracking; the sender is <c>SendInline()</c> with
/// <c>Durability.UseSyncRetryBlock = true</c>: each publish awaits the broker's confirm. (<c>SendInline()</c> alone
/// still hands the envelope to an in-memory retry block and returns before the send: its "publish" rate then
/// measures an in-memory queue, not confirmed publishes; the default batching sender confirms nothing to the caller either.)
/// the listener is <c>ProcessInline()</c> (acks after the handler ran — the buffered default acks on receipt);
/// queues durable, messages persistent (Wolverine's defaults). Failures: <c>OnException().RetryOnce()</c> (inline retry).
/// Outbox: PostgreSQL message storage with <c>UseDurableOutbox()</c> on the sender.
/// </summary>
/// <param name="name">Report name.</param>
/// <param name="prefetch">The listener's prefetch.</param>
/// <param name="listeners">Parallel listeners.</param>
/// <param name="inbox">Consume through Wolverine's PostgreSQL durable inbox (<c>PersistMessagesWithPostgresql</c> on a
/// database of this contender's own + <c>UseDurableInbox()</c> on the listener) instead of <c>ProcessInline()</c>.</param>
internal sealed class WolverineContender(string name = "wolverine", ushort prefetch = RawContender.DefaultPrefetch, int listeners = 1, bool inbox = false) : Contender
{
    private const string Schema = "wolverine_bench";
    private BenchDatabase? inboxDatabase;

    public override string Name => name;

    public override string Settings =>
        $"WolverineFx 6.62.0; publisher confirms + tracking; SendInline() + Durability.UseSyncRetryBlock (publish awaits the confirm); " +
        (inbox
            ? "durable inbox: PersistMessagesWithPostgresql (Durability.Mode = Solo) + UseDurableInbox() (each incoming envelope stored in PostgreSQL, marked handled after its handler); "
            : "ProcessInline(); ") +
        $"PreFetchCount({prefetch}); ListenerCount({listeners}); System.Text.Json; failure = OnException<T>().RetryOnce(); outbox = PersistMessagesWithPostgresql + UseDurableOutbox()";

    public override string? NotMeasuredNote => inbox ? "outbox: measured on the `wolverine` row only (same outbox; this row differs in the listener)" : null;

    public override async Task<IBenchProducer> StartProducerAsync(BenchVhost vhost, string queue, CancellationToken cancellationToken)
    {
        var host = BuildHost("bench-wolverine-producer", vhost, services => { }, opts =>
        {
            opts.PublishMessage<BenchMessage>().ToRabbitQueue(queue).SendInline();
            opts.Durability.UseSyncRetryBlock = true; // PublishAsync completes at the confirm, as for the other contenders
        });
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        return new Producer(host);
    }

    public override async Task<IAsyncDisposable> StartConsumerAsync(BenchVhost vhost, string queue, ConsumeProbe probe, bool failures, CancellationToken cancellationToken)
    {
        WolverineBenchHandler.Probe = probe;
        if (inbox && inboxDatabase is null)
        {
            inboxDatabase = await BenchDatabase.CreateAsync("wolverine_inbox", cancellationToken).ConfigureAwait(false);
        }

        var host = BuildHost("bench-wolverine-consumer", vhost, services => { }, opts =>
        {
            opts.Discovery.IncludeType(typeof(WolverineBenchHandler));
            var listener = opts.ListenToRabbitQueue(queue);
            if (inboxDatabase is not null)
            {
                opts.PersistMessagesWithPostgresql(inboxDatabase.ConnectionString, Schema);
                opts.AutoBuildMessageStorageOnStartup = AutoCreate.CreateOrUpdate;
                opts.Durability.Mode = DurabilityMode.Solo;
                listener.UseDurableInbox();
            }
            else
            {
                listener.ProcessInline();
            }

            listener.PreFetchCount(prefetch).ListenerCount(listeners);
            if (failures)
            {
                opts.OnException<BenchFailureException>().RetryOnce();
            }
        });
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        return new HostStopper(host);
    }

    public override async ValueTask CleanupAsync()
    {
        if (inboxDatabase is not null)
        {
            await inboxDatabase.DisposeAsync().ConfigureAwait(false);
            inboxDatabase = null;
        }
    }

    public override async Task<OutboxResult?> RunOutboxAsync(BenchVhost vhost, string queue, OutboxWorkload workload, CancellationToken cancellationToken)
    {
        if (inbox)
        {
            return null;
        }

        var count = workload.Count;
        var window = workload.Window;
        await using var database = await BenchDatabase.CreateAsync("wolverine", cancellationToken).ConfigureAwait(false);
        await database.ExecuteAsync("create table business_rows (id bigint primary key, payload text not null)", cancellationToken).ConfigureAwait(false);
        var probe = new ConsumeProbe(count);
        await using (await StartConsumerAsync(vhost, queue, probe, failures: false, cancellationToken).ConfigureAwait(false))
        {
            var host = BuildHost("bench-wolverine-outbox", vhost, services => { }, opts =>
            {
                opts.PersistMessagesWithPostgresql(database.ConnectionString, Schema);
                opts.AutoBuildMessageStorageOnStartup = AutoCreate.CreateOrUpdate;
                opts.Durability.Mode = DurabilityMode.Solo;
                opts.PublishMessage<BenchMessage>().ToRabbitQueue(queue).UseDurableOutbox();
            });
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
                var store = (IMessageDatabase)host.Services.GetRequiredService<IMessageStore>();
                var started = Stopwatch.GetTimestamp();
                await Load.RunAsync(count, window, async (id, ct) =>
                {
                    await using var scope = host.Services.CreateAsyncScope();
                    var context = (MessageContext)scope.ServiceProvider.GetRequiredService<IMessageContext>();
                    await using var connection = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
                    await using var transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
                    await context.EnlistInOutboxAsync(new DatabaseEnvelopeTransaction(store, transaction)).ConfigureAwait(false);
                    await using (var insert = new NpgsqlCommand("insert into business_rows (id, payload) values ($1, $2)", connection, transaction))
                    {
                        insert.Parameters.AddWithValue(id);
                        insert.Parameters.AddWithValue(BenchMessage.DefaultPayload);
                        await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                    }

                    await context.PublishAsync(BenchMessage.Create(id)).ConfigureAwait(false);
                    await transaction.CommitAsync(ct).ConfigureAwait(false);
                    await context.FlushOutgoingMessagesAsync().ConfigureAwait(false);
                }, cancellationToken).ConfigureAwait(false);
                await probe.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
                var elapsed = Stopwatch.GetElapsedTime(started, probe.LastTimestamp);
                return new OutboxResult(count / elapsed.TotalSeconds);
            }
            finally
            {
                await HostStopper.StopAsync(host).ConfigureAwait(false);
            }
        }
    }

    private static IHost BuildHost(string name, BenchVhost vhost, Action<IServiceCollection> services, Action<WolverineOptions> configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ApplicationName = name });
        builder.Logging.SetMinimumLevel(LogLevel.Warning).AddFilter("MassTransit", LogLevel.Error).AddFilter("Wolverine", LogLevel.Error).AddFilter("Workers.Benchmarks", LogLevel.None).AddSimpleConsole(o => o.SingleLine = true);
        services(builder.Services);
        builder.Services.AddWolverine(ExtensionDiscovery.ManualOnly, opts =>
        {
            opts.ApplicationAssembly = typeof(WolverineContender).Assembly;
            opts.Discovery.DisableConventionalDiscovery();
            opts.UseRuntimeCompilation();
            opts.UseRabbitMq(vhost.Uri)
                .AutoProvision()
                .ConfigureChannelCreation(o =>
                {
                    o.PublisherConfirmationsEnabled = true;
                    o.PublisherConfirmationTrackingEnabled = true;
                });
            configure(opts);
        });
        return builder.Build();
    }

    private sealed class Producer(IHost host) : IBenchProducer
    {
        private readonly IServiceScopeFactory scopes = host.Services.GetRequiredService<IServiceScopeFactory>();

        public async Task PublishAsync(BenchMessage message, CancellationToken cancellationToken)
        {
            await using var scope = scopes.CreateAsyncScope();
            var bus = scope.ServiceProvider.GetRequiredService<IMessageBus>();
            await bus.PublishAsync(message).ConfigureAwait(false);
        }

        public async ValueTask DisposeAsync() => await HostStopper.StopAsync(host).ConfigureAwait(false);
    }
}

/// <summary>The Wolverine handler (static, as Wolverine favours); the probe is set before its listener starts.</summary>
public static class WolverineBenchHandler
{
    internal static ConsumeProbe? Probe { get; set; }

    public static void Handle(BenchMessage message) =>
        (Probe ?? throw new InvalidOperationException("No probe set.")).Consume(message);
}
