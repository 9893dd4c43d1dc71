using System.Collections.Concurrent;
using System.Diagnostics;
using System.Data.Common;
using System.Text.Json;
using MassTransit;
using MassTransit.Serialization;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Workers.Postgres.Storage;
using Workers.Resilience.Telemetry;

namespace Workers.Postgres.Outbox;

/// <summary>
/// Runs in every replica. Each round: claim due rows in one short statement (<c>FOR UPDATE SKIP LOCKED</c> +
/// a lease with owner and expiry), publish them with no transaction open (publisher confirms), then mark them
/// dispatched in another short statement. A crashed replica's claims are taken over when its lease ends; a
/// publish that was confirmed but not marked is published again with the same MessageId (the inbox absorbs it).
/// Nothing non-durable is published: the claim is a synchronous commit (<c>synchronous_commit</c> pinned to on for it)
/// watched for a cancelled standby wait, so claimed rows are on the synchronous standby before any publish (see OutboxStore).
/// Wakes on NOTIFY (commit of an outbox insert, any replica) or every <see cref="OutboxOptions.PollingInterval"/>.
/// </summary>
internal sealed class OutboxDispatcher<TDbContext> : BackgroundService
    where TDbContext : DbContext
{
    private static readonly ConcurrentDictionary<string, Type?> Types = new(StringComparer.Ordinal);
    private readonly IServiceProvider serviceProvider;
    private readonly IServiceScopeFactory scopeFactory;
    private readonly IBus bus;
    private readonly WorkersDatabase<TDbContext> database;
    private readonly OutboxOptions options;
    private readonly TimeProvider timeProvider;
    private readonly OutboxDispatcherHooks hooks;
    private readonly ILogger logger;
    private readonly string contextName = typeof(TDbContext).Name;

    // Per dispatcher, not static: the exchange a type is published to is the bus's entity name formatter's choice.
    private readonly ConcurrentDictionary<Type, string?> publishExchanges = new();
    private OutboxStore? store;

    public OutboxDispatcher(
        IServiceProvider serviceProvider,
        IServiceScopeFactory scopeFactory,
        IBus bus,
        WorkersDatabase<TDbContext> database,
        IOptions<OutboxOptions> options,
        TimeProvider timeProvider,
        OutboxDispatcherHooks hooks,
        ILogger<OutboxDispatcher<TDbContext>> logger)
    {
        this.serviceProvider = serviceProvider;
        this.scopeFactory = scopeFactory;
        this.bus = bus;
        this.database = database;
        this.options = options.Value;
        this.timeProvider = timeProvider;
        this.hooks = hooks;
        this.logger = logger;
    }

    /// <summary>This dispatcher's lease owner id (unique per instance).</summary>
    public string Owner { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        if (!options.EnableDispatcher)
        {
            return;
        }

        if (!PublisherConfirmsOn(serviceProvider))
        {
            OutboxLog.ConfirmsRequired(logger, OutboxConstants.PublisherConfirmationSetting);
            throw new InvalidOperationException(
                $"The outbox dispatcher needs publisher confirms: {OutboxConstants.PublisherConfirmationSetting} is false (a publish would be marked dispatched unconfirmed). Turn publisher confirmation on, or set {OutboxConstants.SectionPath}:{nameof(OutboxOptions.EnableDispatcher)} to false in this process.");
        }

        if (options.ApplySchemaOnStartup)
        {
            await RetryForeverAsync("schema", async (db, ct) => { await WorkersSchema.ApplyAsync(db, ct).ConfigureAwait(false); return 0; }, stoppingToken).ConfigureAwait(false);
        }

        store = new OutboxStore(database.Tables);
        OutboxMetrics.Register(database.Backlog, contextName);
        OutboxLog.Started(logger, Owner, contextName);
        using var background = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var listener = options.UseNotifications
            ? OutboxNotificationListener.RunAsync(database.ConnectionString, database.Tables.Channel, database.Signal, timeProvider, logger, background.Token)
            : Task.CompletedTask;
        var maintenance = MaintainAsync(background.Token);
        try
        {
            await DispatchLoopAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            await background.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(Quiet(listener), Quiet(maintenance)).ConfigureAwait(false);
            OutboxMetrics.Unregister(database.Backlog);
            OutboxLog.Stopped(logger, Owner);
        }
    }

    /// <summary>False when the bus is RabbitMQ with publisher confirms off (unknown transports: true).</summary>
    internal static bool PublisherConfirmsOn(IServiceProvider services) =>
        services.GetService<MassTransit.Transports.IBusInstance>()?.HostConfiguration is not MassTransit.RabbitMqTransport.Configuration.IRabbitMqHostConfiguration { PublisherConfirmation: false };

    private static async Task Quiet(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task DispatchLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var dispatched = 0;
            try
            {
                dispatched = await RunRoundAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                OutboxLog.DatabaseFailed(logger, e, Owner, "round");
            }

            if (dispatched == 0)
            {
                try
                {
                    await database.Signal.WaitAsync(options.PollingInterval, timeProvider, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>One claim → publish → mark round; returns how many rows were claimed.</summary>
    internal async Task<int> RunRoundAsync(CancellationToken cancellationToken)
    {
        var outbox = store ?? throw new InvalidOperationException("The dispatcher is not started.");
        database.Topology.ThrowIfWritesRefused();
        var now = timeProvider.GetUtcNow();
        var until = OutboxLease.Until(now, options.LeaseDuration);
        var claims = await WithContextAsync((db, ct) => outbox.ClaimAsync(db, Owner, options.BatchSize, now, until, ct), cancellationToken).ConfigureAwait(false);
        if (claims.Count == 0)
        {
            return 0;
        }

        OutboxMetrics.Claimed.Add(claims.Count);
        OutboxLog.Claimed(logger, Owner, claims.Count);

        // Broker I/O with no database transaction or lock held.
        var results = await Task.WhenAll(claims.Select(c => PublishAsync(c, cancellationToken))).ConfigureAwait(false);
        var published = claims.Where((_, i) => results[i] is null).Select(c => c.Id).ToList();
        var failures = new List<OutboxFailure>();
        var unroutable = 0;
        for (var i = 0; i < claims.Count; i++)
        {
            if (results[i] is { } error)
            {
                var retryAt = timeProvider.GetUtcNow() + OutboxLease.RetryDelay(claims[i].Attempts, options.RetryDelay, options.MaxRetryDelay);
                var kind = OutboxFailures.Classify(error.Exception, error.Preparing);
                var text = kind == OutboxFailureKind.Unroutable ? $"unroutable (returned by the broker: no queue bound): {error.Exception}" : error.Exception.ToString();
                failures.Add(new OutboxFailure(claims[i].Id, retryAt, Truncate(text), kind));
                if (kind == OutboxFailureKind.Unroutable)
                {
                    unroutable++;
                    OutboxLog.Unroutable(logger, claims[i].Id, claims[i].MessageType, claims[i].Destination ?? "publish", claims[i].Attempts, retryAt);
                }
                else
                {
                    OutboxLog.PublishFailed(logger, error.Exception, claims[i].Id, claims[i].MessageType, claims[i].Attempts, retryAt);
                }
            }
        }

        if (published.Count > 0 && hooks.AfterPublish is { } hook)
        {
            await hook(published, cancellationToken).ConfigureAwait(false);
        }

        if (published.Count > 0)
        {
            var dispatchedAt = timeProvider.GetUtcNow();
            await WithContextAsync((db, ct) => outbox.MarkDispatchedAsync(db, published, dispatchedAt, ct), CancellationToken.None).ConfigureAwait(false);
            OutboxMetrics.Dispatched.Add(published.Count);
            WorkersDiagnostics.AddEvent("workers.outbox.dispatched", new KeyValuePair<string, object?>("count", published.Count));
            OutboxLog.Dispatched(logger, Owner, published.Count);
        }

        if (failures.Count > 0)
        {
            OutboxMetrics.DispatchFailures.Add(failures.Count);
            WorkersDiagnostics.AddEvent("workers.outbox.dispatch_failed", new KeyValuePair<string, object?>("count", failures.Count));
            if (unroutable > 0)
            {
                OutboxMetrics.Unroutable.Add(unroutable);
                WorkersDiagnostics.AddEvent("workers.outbox.unroutable", new KeyValuePair<string, object?>("count", unroutable));
            }

            var releasedAt = timeProvider.GetUtcNow();
            var quarantined = await WithContextAsync((db, ct) => outbox.ReleaseAsync(db, Owner, failures, options.MaxDispatchAttempts, releasedAt, ct), CancellationToken.None).ConfigureAwait(false);
            foreach (var row in quarantined)
            {
                OutboxLog.Quarantined(logger, row.Id, row.MessageType, row.DispatchFailures, row.OrderingKey ?? "-");
                WorkersDiagnostics.AddEvent(
                    "workers.outbox.quarantined",
                    new KeyValuePair<string, object?>("message_id", row.Id),
                    new KeyValuePair<string, object?>("message_type", row.MessageType),
                    new KeyValuePair<string, object?>("ordering_key", row.OrderingKey));
            }
        }

        return claims.Count;
    }

    /// <summary>Null when confirmed; else the error, and whether it came from the row itself (before any broker I/O).</summary>
    private async Task<(Exception Exception, bool Preparing)?> PublishAsync(OutboxClaim claim, CancellationToken cancellationToken)
    {
        object message;
        Type type;
        Dictionary<string, string>? headers;
        Uri? destination;
        try
        {
            type = Types.GetOrAdd(claim.MessageType, static name => Type.GetType(name, throwOnError: false))
                ?? throw new InvalidOperationException($"Unknown message type '{claim.MessageType}'.");
            message = JsonSerializer.Deserialize(claim.Body, type, SystemTextJsonMessageSerializer.Options)
                ?? throw new InvalidOperationException($"Outbox message {claim.Id} has an empty body.");
            headers = claim.Headers is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(claim.Headers);
            destination = claim.Destination is null ? null : new Uri(claim.Destination);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            if (Types.TryGetValue(claim.MessageType, out var known) && known is null)
            {
                OutboxLog.UnknownType(logger, claim.Id, claim.MessageType);
            }

            return (e, true);
        }

        using var timeout = new CancellationTokenSource(options.PublishTimeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        using var trace = ContinueStagingTrace(claim, headers);
        var exchange = destination is null ? PublishExchange(type) : OutboxMetrics.ExchangeName(destination);
        var started = timeProvider.GetTimestamp();
        try
        {
            if (destination is null)
            {
                await bus.Publish(message, type, Pipe.Execute<PublishContext>(ctx => Stamp(ctx, claim.Id, headers)), linked.Token).ConfigureAwait(false);
            }
            else
            {
                var endpoint = await bus.GetSendEndpoint(destination).ConfigureAwait(false);
                await endpoint.Send(message, type, Pipe.Execute<SendContext>(ctx => Stamp(ctx, claim.Id, headers)), linked.Token).ConfigureAwait(false);
            }

            OutboxMetrics.RecordPublish(exchange, timeProvider.GetElapsedTime(started), failure: null);
            return null;
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
        {
            OutboxMetrics.RecordPublish(exchange, timeProvider.GetElapsedTime(started), e);
            throw;
        }
        catch (Exception e)
        {
            OutboxMetrics.RecordPublish(exchange, timeProvider.GetElapsedTime(started), e);
            return (e, false);
        }
    }

    /// <summary>The exchange MassTransit publishes a message type to (its publish topology's address), cached per type.</summary>
    private string? PublishExchange(Type type) =>
        publishExchanges.GetOrAdd(type, static (t, topology) => topology.TryGetPublishAddress(t, out var address) ? OutboxMetrics.ExchangeName(address) : null, bus.Topology);

    /// <summary>
    /// Makes the staging activity (its W3C context, kept with the row) the parent of the publish, so that MassTransit's
    /// send span — and the consumer's — continue the trace of the transaction that staged the message. Recorded as a
    /// Workers span when someone listens to the <c>Workers</c> source; otherwise a context-only activity that is never
    /// exported. None for a row staged without an activity.
    /// </summary>
    private static Activity? ContinueStagingTrace(OutboxClaim claim, Dictionary<string, string>? headers)
    {
        if (OutboxContextHeaders.Parent(headers) is not { } parent)
        {
            return null;
        }

        var activity = WorkersDiagnostics.ActivitySource.StartActivity(OutboxConstants.DispatchActivity, ActivityKind.Producer, parent);
        if (activity is null)
        {
            activity = new Activity(OutboxConstants.DispatchActivity);
            activity.SetParentId(parent.TraceId, parent.SpanId, parent.TraceFlags);
            activity.TraceStateString = parent.TraceState;
            activity.Start();
        }
        else if (activity.IsAllDataRequested)
        {
            activity.SetTag("messaging.system", "rabbitmq");
            activity.SetTag("messaging.operation.type", "send");
            activity.SetTag("messaging.message.id", claim.Id.ToString("D"));
        }

        return activity;
    }

    private static void Stamp(SendContext context, Guid messageId, Dictionary<string, string>? headers)
    {
        context.MessageId = messageId;

        // Mandatory: a publish no queue receives comes back (basic.return) and faults the publish task,
        // so the row is not marked dispatched (see OutboxReturns).
        if (context.TryGetPayload<RabbitMqSendContext>(out var rabbit))
        {
            rabbit.Mandatory = true;
        }

        if (headers is not null)
        {
            OutboxContextHeaders.Restore(context, headers);
        }
    }

    private async Task MaintainAsync(CancellationToken cancellationToken)
    {
        // (the split-brain guard's topology is checked by Failover/PostgresTopologyMonitor, whether or not this runs)
        var outbox = store!;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var now = timeProvider.GetUtcNow();
                var snapshot = await WithContextAsync((db, ct) => outbox.MeasureAsync(db, now, ct), cancellationToken).ConfigureAwait(false);
                database.Backlog.Snapshot = snapshot;
                if (snapshot.Pending > 0)
                {
                    OutboxLog.Backlog(logger, snapshot.Pending, database.Backlog.Lag.TotalSeconds);
                }

                await PurgeOnceAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                OutboxLog.DatabaseFailed(logger, e, Owner, "maintenance");
            }

            await Task.Delay(options.MaintenanceInterval, timeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// One purge round: deletes dispatched rows older than <see cref="OutboxOptions.DispatchedRetention"/> in batches of
    /// <see cref="OutboxOptions.PurgeBatchSize"/> (each its own short statement) while a batch comes back full, up to
    /// <see cref="OutboxOptions.MaxPurgeBatches"/>; returns the rows deleted.
    /// </summary>
    internal async Task<long> PurgeOnceAsync(CancellationToken cancellationToken)
    {
        if (!database.Topology.WritesAllowed)
        {
            return 0;
        }

        var outbox = store ?? new OutboxStore(database.Tables);
        var cutoff = timeProvider.GetUtcNow() - options.DispatchedRetention;
        var started = timeProvider.GetTimestamp();
        var round = await BatchedDelete.RunAsync(
            ct => WithContextAsync((db, c) => outbox.PurgeAsync(db, cutoff, options.PurgeBatchSize, c), ct),
            options.PurgeBatchSize,
            options.MaxPurgeBatches,
            () => database.Topology.WritesAllowed,
            cancellationToken).ConfigureAwait(false);
        OutboxMetrics.Purged.Record(round.Deleted, new KeyValuePair<string, object?>("db.context", contextName), new KeyValuePair<string, object?>("workers.cleanup.capped", round.Capped));
        if (round.Deleted > 0)
        {
            OutboxLog.Purged(logger, round.Deleted, round.Batches, timeProvider.GetElapsedTime(started).TotalMilliseconds);
            WorkersDiagnostics.AddEvent(
                "workers.outbox.purged",
                new KeyValuePair<string, object?>("count", round.Deleted),
                new KeyValuePair<string, object?>("batches", round.Batches),
                new KeyValuePair<string, object?>("capped", round.Capped));
        }

        if (round.Capped)
        {
            OutboxLog.PurgeCapped(logger, round.Batches, round.Deleted, options.MaintenanceInterval);
        }

        await PurgeKeysOnceAsync(outbox, cancellationToken).ConfigureAwait(false);
        return round.Deleted;
    }

    /// <summary>Deletes the rows of ordering keys with no undispatched message (the key table stays the size of the keyed backlog).</summary>
    private async Task PurgeKeysOnceAsync(OutboxStore outbox, CancellationToken cancellationToken)
    {
        var keys = await BatchedDelete.RunAsync(
            ct => WithContextAsync((db, c) => outbox.PurgeKeysAsync(db, options.PurgeBatchSize, c), ct),
            options.PurgeBatchSize,
            options.MaxPurgeBatches,
            () => database.Topology.WritesAllowed,
            cancellationToken).ConfigureAwait(false);
        OutboxMetrics.KeysPurged.Record(keys.Deleted, new KeyValuePair<string, object?>("db.context", contextName));
        if (keys.Deleted > 0)
        {
            OutboxLog.KeysPurged(logger, keys.Deleted, keys.Batches);
            WorkersDiagnostics.AddEvent(
                "workers.outbox.keys_purged",
                new KeyValuePair<string, object?>("count", keys.Deleted),
                new KeyValuePair<string, object?>("batches", keys.Batches));
        }
    }

    private async Task<T> WithContextAsync<T>(Func<TDbContext, CancellationToken, Task<T>> operation, CancellationToken cancellationToken)
    {
        var scope = scopeFactory.CreateAsyncScope();
        await using var scopeDisposal = scope.ConfigureAwait(false);
        var context = scope.ServiceProvider.GetRequiredService<TDbContext>();
        var strategy = context.Database.CreateExecutionStrategy();
        return await strategy.ExecuteAsync(
            async ct =>
            {
                database.Topology.ThrowIfWritesRefused();
                await context.Database.OpenConnectionAsync(ct).ConfigureAwait(false);
                using var watch = DurableCommit.Watch((NpgsqlConnection)context.Database.GetDbConnection());
                var result = await operation(context, ct).ConfigureAwait(false);
                watch.ThrowIfNotDurable();
                return result;
            },
            cancellationToken).ConfigureAwait(false);
    }

    private async Task RetryForeverAsync(string what, Func<TDbContext, CancellationToken, Task<int>> operation, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await WithContextAsync(operation, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is DbException or NpgsqlException or TimeoutException or RetryLimitExceededException)
            {
                OutboxLog.DatabaseFailed(logger, e, Owner, what);
                await Task.Delay(options.PollingInterval, timeProvider, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static string Truncate(string value) =>
        value.Length <= OutboxConstants.MaxErrorLength ? value : value[..OutboxConstants.MaxErrorLength];
}
