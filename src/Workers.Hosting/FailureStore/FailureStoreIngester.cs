using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using RabbitMQ.Client;
using Workers.Postgres;
using Workers.Postgres.FailureStore;
using Workers.Resilience.DeadLetter;

namespace Workers.Hosting;

/// <summary>
/// When <c>Workers:FailureStore:Enabled</c>: ingests every endpoint's <c>_error</c> and <c>_skipped</c> queue into the
/// failure store (one <see cref="DeadLetterIngestion"/> per queue on a connection of its own), retrying after
/// <see cref="FailureStoreOptions.RetryDelay"/> whenever the broker or the database fails. Lives in Workers.Hosting
/// because it needs what only the host knows (the endpoints, the broker connection settings, the lifetime); the SQL,
/// the row mapping and the fingerprint live in Workers.Postgres, which the CLI reads the store with.
/// </summary>
internal sealed class FailureStoreIngester : BackgroundService
{
    private readonly WorkersOptions options;
    private readonly WorkerEndpointCatalog catalog;
    private readonly TimeProvider time;
    private readonly ILogger<FailureStoreIngester> logger;
    private readonly SemaphoreSlim gate = new(1, 1);
    private IConnection? connection;

    public FailureStoreIngester(IOptions<WorkersOptions> options, WorkerEndpointCatalog catalog, TimeProvider time, ILogger<FailureStoreIngester> logger)
    {
        this.options = options.Value;
        this.catalog = catalog;
        this.time = time;
        this.logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.FailureStore;
        if (!settings.Enabled)
        {
            return;
        }

        var dataSource = NpgsqlDataSource.Create(options.Postgres.ConnectionString);
        await using var dataSourceDisposal = dataSource.ConfigureAwait(false);
        var table = FailureStoreTables.Failures(settings.Schema);
        if (!await WaitForStoreAsync(dataSource, table, settings, stoppingToken).ConfigureAwait(false))
        {
            return;
        }

        var writer = new FailureStoreWriter(dataSource, settings.Schema);
        var queues = catalog.Queues.Distinct(StringComparer.Ordinal)
            .SelectMany(q => new[] { q + DeadLetterConstants.ErrorQueueSuffix, q + DeadLetterConstants.SkippedQueueSuffix })
            .ToList();
        try
        {
            await Task.WhenAll(queues.Select(queue =>
            {
                FailureStoreLog.Ingesting(logger, queue, table);
                return RunQueueAsync(new DeadLetterIngestion(queue, writer, settings.BatchSize, time, logger), settings.RetryDelay, stoppingToken);
            })).ConfigureAwait(false);
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task RunQueueAsync(DeadLetterIngestion ingestion, TimeSpan retryDelay, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ingestion.RunAsync(await ConnectAsync(stoppingToken).ConfigureAwait(false), stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                ingestion.ReportFailure(exception, retryDelay);
                try
                {
                    await Task.Delay(retryDelay, time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task<bool> WaitForStoreAsync(NpgsqlDataSource dataSource, string table, FailureStoreOptions settings, CancellationToken stoppingToken)
    {
        while (true)
        {
            try
            {
                var db = await dataSource.OpenConnectionAsync(stoppingToken).ConfigureAwait(false);
                await using (db.ConfigureAwait(false))
                {
                    if (await WorkersFailureStore.ExistsAsync(db, settings.Schema, stoppingToken).ConfigureAwait(false))
                    {
                        return true;
                    }
                }

                FailureStoreLog.StoreMissing(logger, table, settings.RetryDelay);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return false;
            }
            catch (NpgsqlException exception)
            {
                FailureStoreLog.IngestFailed(logger, exception, table, exception.GetType().Name, settings.RetryDelay);
            }

            try
            {
                await Task.Delay(settings.RetryDelay, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
    }

    private async Task<IConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (connection is { IsOpen: true })
            {
                return connection;
            }

            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            var rabbit = options.RabbitMq;
            var factory = new ConnectionFactory
            {
                Uri = BrokerAddress.Parse(rabbit.Uri).ToAmqpUri(),
                ClientProvidedName = (rabbit.ConnectionName ?? "workers") + "-failure-store",
                AutomaticRecoveryEnabled = false,
            };
            connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        finally
        {
            gate.Release();
        }
    }

    public override void Dispose()
    {
        gate.Dispose();
        base.Dispose();
    }
}
