using System.Diagnostics;
using HdrHistogram;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Workers.Benchmarks.Infrastructure;
using Workers.Exporters;
using Workers.Hosting;
using Workers.Postgres;

namespace Workers.Benchmarks.Contenders;

/// <summary>
/// Workers as a user runs it: <c>builder.AddWorkers(w =&gt; w.AddConsumer&lt;T&gt;("queue"))</c> with its default
/// options (publisher confirms, durable queues, <see cref="RabbitMqOptions.DefaultPrefetchCount"/>), configured
/// only through the <c>Workers</c> configuration section, with the full resilience pipeline on
/// (<see cref="ConfigurePipeline"/>). With <paramref name="inbox"/> the consumer also runs the PostgreSQL inbox
/// (<c>UsePostgres&lt;BenchDbContext&gt;()</c>: every message is recorded and deduplicated in its own transaction).
/// The outbox workload uses the Workers outbox the way an application does (business row + outbox row, one
/// <c>SaveChanges</c>), relayed by the outbox dispatcher of an <c>AddWorkers(... UsePostgres ...)</c> host.
/// </summary>
/// <param name="name">Report name; variants other than the defaults are named <c>workers-pP[-cC]</c>.</param>
/// <param name="prefetch">Overrides <c>Workers:RabbitMq:PrefetchCount</c> (null = the Workers default).</param>
/// <param name="concurrentMessageLimit">Sets <c>Workers:Endpoints:QUEUE:ConcurrentMessageLimit</c> (null = unset).</param>
/// <param name="inbox">Run the consumer with the PostgreSQL inbox (a database of this contender's own).</param>
/// <param name="telemetry">null = the Workers default; false sets <c>Workers:Telemetry:Enabled</c> to false (variant <c>-notel</c>).</param>
/// <param name="poolContexts">false sets <c>Workers:Postgres:PoolDbContexts</c> to false (variant <c>workers-inbox-nopool</c>: a DbContext built per message, as before pooling).</param>
/// <param name="connectionOptions">Appended to the inbox database's connection string (variant <c>workers-inbox-noreset</c>: <c>No Reset On Close=true</c>).</param>
internal sealed class WorkersContender(string name = "workers", int? prefetch = null, int? concurrentMessageLimit = null, bool inbox = false, bool? telemetry = null, bool poolContexts = true, string? connectionOptions = null) : Contender
{
    private BenchDatabase? inboxDatabase;

    public override string Name => name;

    public override string Settings =>
        (prefetch is null && concurrentMessageLimit is null ? "AddWorkers defaults: " : "AddWorkers, configured: ") +
        $"prefetch {prefetch ?? RabbitMqOptions.DefaultPrefetchCount}{(prefetch is null ? " (RabbitMqOptions.DefaultPrefetchCount)" : string.Empty)}, " +
        $"ConcurrentMessageLimit {concurrentMessageLimit?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unset (= prefetch)"}, envelope JSON, publisher confirms on; " + PipelineDescription +
        (inbox ? "; inbox ON (UsePostgres<BenchDbContext>: one INSERT … ON CONFLICT + COMMIT per message)" : "; inbox off (no database)") +
        (telemetry is false ? "; telemetry OFF (Workers:Telemetry:Enabled = false)" : string.Empty) +
        (poolContexts ? string.Empty : "; DbContext pooling OFF (Workers:Postgres:PoolDbContexts = false)") +
        (connectionOptions is null ? string.Empty : $"; connection string + `{connectionOptions}`") +
        (inbox ? string.Empty : "; outbox = IWorkersOutbox.Send + SaveChanges (business row + outbox row), relayed by the OutboxDispatcher (defaults: batch 100, NOTIFY wake-up)");

    /// <summary>What <see cref="ConfigurePipeline"/> enables, for the report.</summary>
    private const string PipelineDescription = "pipeline: redelivery (broker delay ladder, 100 ms) + dead-letter + circuit breaker + bulkhead (= prefetch) + timeout (30 s)";

    public override bool SupportsFailures => true;

    public override string? NotMeasuredNote => inbox ? "outbox: measured on the `workers` row only (same relay; this row differs in the consumer)" : null;

    public override async Task<IBenchProducer> StartProducerAsync(BenchVhost vhost, string queue, CancellationToken cancellationToken)
    {
        var host = BuildHost(vhost, "bench-workers-producer", queue, null, _ => { }, workers => { });
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        var bus = host.Services.GetRequiredService<IBus>();
        var endpoint = await bus.GetSendEndpoint(new Uri($"queue:{queue}")).ConfigureAwait(false);
        return new Producer(host, endpoint);
    }

    public override async Task<IAsyncDisposable> StartConsumerAsync(BenchVhost vhost, string queue, ConsumeProbe probe, bool failures, CancellationToken cancellationToken)
    {
        string? postgres = null;
        if (inbox)
        {
            if (inboxDatabase is null)
            {
                inboxDatabase = await BenchDatabase.CreateAsync("workers_inbox", cancellationToken).ConfigureAwait(false);
                await PrepareSchemaAsync(inboxDatabase, cancellationToken).ConfigureAwait(false);
            }

            postgres = inboxDatabase.ConnectionString + (connectionOptions is null ? string.Empty : ";" + connectionOptions);
        }

        var host = BuildHost(
            vhost,
            "bench-workers-consumer",
            queue,
            postgres,
            services => services.AddSingleton(probe),
            workers =>
            {
                if (inbox)
                {
                    workers.UsePostgres<BenchDbContext>();
                }

                workers.AddConsumer<MassTransitBenchConsumer>(queue);
                ConfigurePipeline(workers, queue, failures);
            });
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        return postgres is null ? new HostStopper(host) : new InboxHostStopper(host, postgres);
    }

    public override async ValueTask CleanupAsync()
    {
        if (inboxDatabase is not null)
        {
            await inboxDatabase.DisposeAsync().ConfigureAwait(false);
            inboxDatabase = null;
        }
    }

    /// <summary>The full pipeline, through configuration only (as an application would set it in appsettings.json).</summary>
    private void ConfigurePipeline(WorkersBuilder workers, string queue, bool failures)
    {
        ArgumentNullException.ThrowIfNull(workers);
        _ = failures; // redelivery is always on: a failed delivery goes through the broker's delay ladder.
        var endpoint = $"Workers:Endpoints:{queue}";
        workers.Configuration[$"{endpoint}:Redelivery:Delay"] = "00:00:00.100";
        workers.Configuration[$"{endpoint}:Redelivery:MaxRedeliveryAttempts"] = "3";
        workers.Configuration[$"{endpoint}:CircuitBreaker:FailureRatio"] = "0.9";
        workers.Configuration[$"{endpoint}:CircuitBreaker:MinimumThroughput"] = "1000";
        var permits = prefetch ?? RabbitMqOptions.DefaultPrefetchCount; // the bulkhead never holds more than the prefetch
        workers.Configuration[$"{endpoint}:Bulkhead:PermitLimit"] = permits.ToString(System.Globalization.CultureInfo.InvariantCulture);
        workers.Configuration[$"{endpoint}:Timeout:Timeout"] = "00:00:30";
    }

    /// <summary>
    /// The Workers outbox, in three parts on one fresh database, consumed by this contender's consumer:
    /// <list type="number">
    /// <item>end to end: <see cref="OutboxWorkload.Count"/> transactions (business row + outbox row, one
    /// <c>SaveChanges</c>), <see cref="OutboxWorkload.Window"/> at once, while the dispatcher relays: first commit to last consume;</item>
    /// <item>enqueue, then relay drain: <see cref="OutboxWorkload.Backlog"/> transactions with no dispatcher running
    /// (the enqueue rate, comparable to the bare Npgsql baseline), then the dispatcher's host starts and relays the
    /// backlog: first to last consume;</item>
    /// <item>commit→consume latency: transactions at <see cref="OutboxWorkload.LatencyRate"/> per second, each timed from
    /// the return of its <c>SaveChanges</c> (the commit) to its consume.</item>
    /// </list>
    /// </summary>
    public override async Task<OutboxResult?> RunOutboxAsync(BenchVhost vhost, string queue, OutboxWorkload workload, CancellationToken cancellationToken)
    {
        if (inbox)
        {
            return null;
        }

        await using var database = await BenchDatabase.CreateAsync("workers_outbox", cancellationToken).ConfigureAwait(false);
        await PrepareSchemaAsync(database, cancellationToken).ConfigureAwait(false);
        var destination = new Uri($"queue:{queue}");

        // 1. End to end, the relay running.
        double endToEnd;
        var probe = new ConsumeProbe(workload.Count);
        await using (await StartConsumerAsync(vhost, queue, probe, failures: false, cancellationToken).ConfigureAwait(false))
        {
            var relay = BuildOutboxHost(vhost, database);
            await relay.StartAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var started = Stopwatch.GetTimestamp();
                await Load.RunAsync(workload.Count, workload.Window, (id, ct) => EnqueueAsync(relay.Services, destination, id, BenchMessage.Create(id), ct), cancellationToken).ConfigureAwait(false);
                await probe.WaitAsync(OutboxStall, cancellationToken).ConfigureAwait(false);
                endToEnd = workload.Count / Stopwatch.GetElapsedTime(started, probe.LastTimestamp).TotalSeconds;
            }
            finally
            {
                await HostStopper.StopAsync(relay).ConfigureAwait(false);
            }
        }

        // 2. Enqueue with no relay (the host is built, not started: its dispatcher does not run), then the relay drains.
        var backlogIds = 1_000_000_000L;
        var host = BuildOutboxHost(vhost, database);
        var hostStarted = false;
        try
        {
            var started = Stopwatch.GetTimestamp();
            await Load.RunAsync(workload.Backlog, workload.Window, (id, ct) => EnqueueAsync(host.Services, destination, backlogIds + id, BenchMessage.Create(id), ct), cancellationToken).ConfigureAwait(false);
            var enqueue = workload.Backlog / Stopwatch.GetElapsedTime(started).TotalSeconds;

            var drainProbe = new ConsumeProbe(workload.Backlog);
            await using (await StartConsumerAsync(vhost, queue, drainProbe, failures: false, cancellationToken).ConfigureAwait(false))
            {
                await host.StartAsync(cancellationToken).ConfigureAwait(false);
                hostStarted = true;
                await drainProbe.WaitAsync(OutboxStall, cancellationToken).ConfigureAwait(false);
            }

            var drain = (workload.Backlog - 1) / drainProbe.FirstToLast.TotalSeconds;

            // 3. Commit → consume latency at a fixed rate, the relay running.
            var count = (int)Math.Max(100, workload.LatencyRate * workload.LatencySeconds);
            var latencyIds = 2_000_000_000L;
            var committed = new long[count];
            var latencyProbe = new ConsumeProbe(count, recordConsumeTimes: true);
            await using (await StartConsumerAsync(vhost, queue, latencyProbe, failures: false, cancellationToken).ConfigureAwait(false))
            {
                await Load.PacedAsync(count, workload.LatencyRate, async (id, _, ct) =>
                {
                    await EnqueueAsync(host.Services, destination, latencyIds + id, BenchMessage.Create(id), ct).ConfigureAwait(false);
                    committed[id] = Stopwatch.GetTimestamp();
                }, cancellationToken).ConfigureAwait(false);
                await latencyProbe.WaitAsync(OutboxStall, cancellationToken).ConfigureAwait(false);
            }

            return new OutboxResult(endToEnd, enqueue, drain, CommitToConsume(committed, latencyProbe, count / 10));
        }
        finally
        {
            if (hostStarted)
            {
                await HostStopper.StopAsync(host).ConfigureAwait(false);
            }
            else
            {
                host.Dispose();
            }
        }
    }

    private static readonly TimeSpan OutboxStall = TimeSpan.FromSeconds(60);

    /// <summary>Commit returned → consumed, skipping the first <paramref name="skip"/> (warm-up); a consume seen before the commit's return counts as 1 µs.</summary>
    private static LongHistogram CommitToConsume(long[] committed, ConsumeProbe probe, int skip)
    {
        var histogram = new LongHistogram(60_000_000, 3);
        for (var id = skip; id < committed.Length; id++)
        {
            var micros = (long)Stopwatch.GetElapsedTime(committed[id], probe.ConsumedAt(id)).TotalMicroseconds;
            histogram.RecordValue(Math.Clamp(micros, 1, histogram.HighestTrackableValue));
        }

        return histogram;
    }

    /// <summary>What application code does: a business row and an outbox message, saved (and committed) together.</summary>
    private static async Task EnqueueAsync(IServiceProvider services, Uri destination, long rowId, BenchMessage message, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BenchDbContext>();
        var outbox = scope.ServiceProvider.GetRequiredService<IWorkersOutbox>();
        db.Rows.Add(new BusinessRow { Id = rowId, Payload = BenchMessage.DefaultPayload });
        outbox.Send(destination, message);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task PrepareSchemaAsync(BenchDatabase database, CancellationToken cancellationToken)
    {
        await WorkersSchema.ApplyAsync(database.ConnectionString, cancellationToken: cancellationToken).ConfigureAwait(false);
        await database.ExecuteAsync(BenchDbContext.BusinessDdl, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A worker with no consumer that runs the outbox dispatcher (<c>UsePostgres</c>), as a publishing service would.</summary>
    private IHost BuildOutboxHost(BenchVhost vhost, BenchDatabase database) =>
        BuildHost(vhost, "bench-workers-outbox", "unused", database.ConnectionString, _ => { }, workers => workers.UsePostgres<BenchDbContext>());

    private IHost BuildHost(BenchVhost vhost, string name, string queue, string? postgres, Action<IServiceCollection> services, Action<WorkersBuilder> configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ApplicationName = name });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            // Only in-memory configuration: the process's WORKERS_* variables must not override the vhost or database.
            ["Workers:RabbitMq:Uri"] = vhost.Uri.ToString(),
            [RabbitMqOptions.UriVariable] = vhost.Uri.ToString(),
            ["Workers:ShutdownTimeout"] = "00:00:30",
        });
        if (postgres is not null)
        {
            builder.Configuration["Workers:Postgres:ConnectionString"] = postgres;
            builder.Configuration[PostgresOptions.ConnectionStringVariable] = postgres;
        }

        if (!poolContexts)
        {
            builder.Configuration["Workers:Postgres:PoolDbContexts"] = "false";
        }

        if (telemetry is { } enabled)
        {
            builder.Configuration["Workers:Telemetry:Enabled"] = enabled ? "true" : "false";
        }

        if (prefetch is { } p)
        {
            builder.Configuration["Workers:RabbitMq:PrefetchCount"] = p.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (concurrentMessageLimit is { } limit)
        {
            builder.Configuration[$"Workers:Endpoints:{queue}:ConcurrentMessageLimit"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        builder.Logging.SetMinimumLevel(LogLevel.Warning).AddFilter("MassTransit", LogLevel.Error).AddFilter("Wolverine", LogLevel.Error).AddFilter("Workers.Benchmarks", LogLevel.None).AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Error).AddSimpleConsole(o => o.SingleLine = true);
        services(builder.Services);
        builder.AddWorkers(configure);
        // As before the exporters became an opt-in (the measured default carried the Prometheus exporter).
        builder.AddWorkersExporters();
        return builder.Build();
    }

    private sealed class Producer(IHost host, ISendEndpoint endpoint) : IBenchProducer
    {
        public Task PublishAsync(BenchMessage message, CancellationToken cancellationToken) => endpoint.Send(message, cancellationToken);

        public async ValueTask DisposeAsync() => await HostStopper.StopAsync(host).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops an inbox consumer's host, then closes its idle pooled connections (up to the prefetch, 100): left open,
    /// the pools of several inbox rows in one run exceed the shared server's max_connections and starve the next row.
    /// </summary>
    private sealed class InboxHostStopper(IHost host, string connectionString) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await HostStopper.StopAsync(host).ConfigureAwait(false);
            await using var connection = new Npgsql.NpgsqlConnection(connectionString);
            Npgsql.NpgsqlConnection.ClearPool(connection);
        }
    }
}
