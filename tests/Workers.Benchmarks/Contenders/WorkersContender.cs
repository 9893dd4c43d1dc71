using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Workers.Benchmarks.Infrastructure;
using Workers.Hosting;

namespace Workers.Benchmarks.Contenders;

/// <summary>
/// Workers as a user runs it: <c>builder.AddWorkers(w =&gt; w.AddConsumer&lt;T&gt;("queue"))</c> with its default
/// options (publisher confirms, durable queues, <see cref="RabbitMqOptions.DefaultPrefetchCount"/>), configured
/// only through the <c>Workers</c> configuration section. <see cref="ConfigurePipeline"/> is the single place where
/// the resilience middleware and the outbox get switched on once they are merged.
/// </summary>
/// <param name="name">Report name; variants other than the defaults are named <c>workers-pP[-cC]</c>.</param>
/// <param name="prefetch">Overrides <c>Workers:RabbitMq:PrefetchCount</c> (null = the Workers default).</param>
/// <param name="concurrentMessageLimit">Sets <c>Workers:Endpoints:QUEUE:ConcurrentMessageLimit</c> (null = unset).</param>
internal sealed class WorkersContender(string name = "workers", int? prefetch = null, int? concurrentMessageLimit = null) : Contender
{
    public override string Name => name;

    public override string Settings =>
        (prefetch is null && concurrentMessageLimit is null ? "AddWorkers defaults from main: " : "AddWorkers, configured: ") +
        $"prefetch {prefetch ?? RabbitMqOptions.DefaultPrefetchCount}{(prefetch is null ? " (RabbitMqOptions.DefaultPrefetchCount)" : string.Empty)}, " +
        $"ConcurrentMessageLimit {concurrentMessageLimit?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unset (= prefetch)"}, envelope JSON, publisher confirms on; " + PipelineDescription;

    /// <summary>What <see cref="ConfigurePipeline"/> enables today, for the report.</summary>
    private const string PipelineDescription = "pipeline: redelivery (broker delay ladder, 100 ms) + dead-letter + circuit breaker + bulkhead (= prefetch) + timeout (30 s); inbox off (no database in this contender)";

    public override bool SupportsFailures => true;

    public override string? NotMeasuredNote =>
        "outbox: not measured for Workers yet (see RunOutboxAsync); the inbox is off in this contender";

    public override async Task<IBenchProducer> StartProducerAsync(BenchVhost vhost, string queue, CancellationToken cancellationToken)
    {
        var host = BuildHost(vhost, "bench-workers-producer", queue, _ => { }, workers => { });
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        var bus = host.Services.GetRequiredService<IBus>();
        var endpoint = await bus.GetSendEndpoint(new Uri($"queue:{queue}")).ConfigureAwait(false);
        return new Producer(host, endpoint);
    }

    public override async Task<IAsyncDisposable> StartConsumerAsync(BenchVhost vhost, string queue, ConsumeProbe probe, bool failures, CancellationToken cancellationToken)
    {
        var host = BuildHost(
            vhost,
            "bench-workers-consumer",
            queue,
            services => services.AddSingleton(probe),
            workers =>
            {
                workers.AddConsumer<MassTransitBenchConsumer>(queue);
                ConfigurePipeline(workers, queue, failures);
            });
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        return new HostStopper(host);
    }

    // ───────────────────────────────────────────────────────────────────────────────────────────────
    // LEAD: the one place to switch the full pipeline on once the resilience middleware and the outbox
    // are merged into main. Everything else in this contender stays as it is.
    //   • redelivery / circuit breaker / bulkhead / dead-letter: call the Use*/Add* entry points here
    //     (e.g. on `workers` or through workers.ConfigureRabbitMq(...)); with redelivery on, set
    //     SupportsFailures => true so the failure workload runs for Workers too.
    //   • the outbox: fill RunOutboxAsync below and remove "outbox" from NotMeasuredNote.
    // Update PipelineDescription so the report says what was measured.
    // ───────────────────────────────────────────────────────────────────────────────────────────────
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
    /// PLACEHOLDER (lead fills it once the Postgres outbox is merged): publish <paramref name="count"/> messages
    /// through the Workers outbox, each in a transaction with a business row, and time until all are consumed.
    /// Until then the report shows the bare Npgsql INSERT rate as the baseline and "pending" for Workers.
    /// </summary>
    public override Task<double?> RunOutboxAsync(BenchVhost vhost, string queue, int count, int window, CancellationToken cancellationToken) =>
        Task.FromResult<double?>(null);

    private IHost BuildHost(BenchVhost vhost, string name, string queue, Action<IServiceCollection> services, Action<WorkersBuilder> configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ApplicationName = name });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            // Only in-memory configuration: the process's WORKERS_RABBITMQ_URI must not override the vhost.
            ["Workers:RabbitMq:Uri"] = vhost.Uri.ToString(),
            [RabbitMqOptions.UriVariable] = vhost.Uri.ToString(),
            ["Workers:ShutdownTimeout"] = "00:00:30",
        });
        if (prefetch is { } p)
        {
            builder.Configuration["Workers:RabbitMq:PrefetchCount"] = p.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (concurrentMessageLimit is { } limit)
        {
            builder.Configuration[$"Workers:Endpoints:{queue}:ConcurrentMessageLimit"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        builder.Logging.SetMinimumLevel(LogLevel.Warning).AddFilter("MassTransit", LogLevel.Error).AddFilter("Wolverine", LogLevel.Error).AddFilter("Workers.Benchmarks", LogLevel.None).AddSimpleConsole(o => o.SingleLine = true);
        services(builder.Services);
        builder.AddWorkers(configure);
        return builder.Build();
    }

    private sealed class Producer(IHost host, ISendEndpoint endpoint) : IBenchProducer
    {
        public Task PublishAsync(BenchMessage message, CancellationToken cancellationToken) => endpoint.Send(message, cancellationToken);

        public async ValueTask DisposeAsync() => await HostStopper.StopAsync(host).ConfigureAwait(false);
    }
}
