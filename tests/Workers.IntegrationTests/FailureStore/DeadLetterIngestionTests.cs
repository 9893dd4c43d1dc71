using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using RabbitMQ.Client;
using Workers.Hosting;
using Workers.Postgres;
using Workers.Postgres.FailureStore;
using Workers.Resilience;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.FailureStore;

/// <summary>
/// The failure-store ingester on a real broker and database, killed at random points: the broker connection is aborted
/// (no ack, no close: what a SIGKILL does to the process's sockets) either at a random point of a batch's life (read,
/// committed but not acknowledged, acknowledged) or after a random delay, while its SQL may be in flight.
/// </summary>
public sealed class DeadLetterIngestionTests(RabbitMqTestVhost vhost, PostgresTestDatabase database) : IClassFixture<RabbitMqTestVhost>, IClassFixture<PostgresTestDatabase>
{
    private const string ErrorQueue = "orders_error";
    private const int Messages = 3000;
    private const int BatchSize = 100;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task KilledAtRandomPoints_LosesNothingAndDuplicatesNothing()
    {
        await WorkersSchema.ApplyAsync(database.ConnectionString, cancellationToken: Ct);
        await PublishDeadLettersAsync();
        var seed = Environment.TickCount;
        var random = new Random(seed);
        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        var writer = new FailureStoreWriter(dataSource);
        // Every point of a batch's life at least once (the dangerous one, committed-not-acknowledged, twice), then random delays.
        IngestionPoint?[] plan = [IngestionPoint.Committed, IngestionPoint.BatchRead, IngestionPoint.Acknowledged, IngestionPoint.Committed, null, null, null, null, null, null];
        long duplicates = 0;
        var kills = 0;
        foreach (var point in plan)
        {
            var connection = await new ConnectionFactory { Uri = vhost.Uri, AutomaticRecoveryEnabled = false }.CreateConnectionAsync(Ct);
            using var killed = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            var batches = random.Next(1, 4);
            async Task Kill()
            {
                await connection.AbortAsync();
                await killed.CancelAsync();
                Interlocked.Increment(ref kills);
            }

            var ingestion = new DeadLetterIngestion(ErrorQueue, writer, BatchSize, TimeProvider.System, NullLogger.Instance, async (at, _) =>
            {
                if (at == point && --batches == 0)
                {
                    await Kill();
                    throw new OperationCanceledException("killed");
                }
            });
            var run = ingestion.RunAsync(connection, killed.Token);
            if (point is null)
            {
                await Task.Delay(random.Next(20, 200), Ct);
                await Kill();
            }

            await Assert.ThrowsAnyAsync<Exception>(() => run);
            duplicates += ingestion.DuplicatesAbsorbed;
            connection.Dispose();
        }

        // Restarted for good: it ingests what is left.
        var final = await new ConnectionFactory { Uri = vhost.Uri }.CreateConnectionAsync(Ct);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var last = new DeadLetterIngestion(ErrorQueue, writer, BatchSize, TimeProvider.System, NullLogger.Instance);
        var running = last.RunAsync(final, stop.Token);
        await Eventually.HoldsAsync(async () => await CountAsync("SELECT count(*) FROM workers_failures") == Messages, TimeSpan.FromSeconds(60), $"all {Messages} dead letters stored (seed {seed})", Ct);
        await vhost.WaitForReadyCountAsync(ErrorQueue, 0, TimeSpan.FromSeconds(30), Ct);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        duplicates += last.DuplicatesAbsorbed;
        await final.CloseAsync(Ct);
        final.Dispose();

        Assert.Equal(plan.Length, kills);
        Assert.Equal(Messages, await CountAsync("SELECT count(DISTINCT message_id) FROM workers_failures"));
        Assert.Equal(Messages, await CountAsync("SELECT count(*) FROM workers_failures"));
        Assert.Equal(0u, await vhost.CountReadyAsync(ErrorQueue, Ct));
        Assert.Equal(Messages, await CountAsync("SELECT count(*) FROM workers_failures WHERE queue = 'orders' AND exception_type = 'System.TimeoutException' AND body = convert_to('{\"n\":' || substr(message_id, 3) || '}', 'UTF8')"));
        Assert.True(duplicates > 0, $"a batch committed but not acknowledged was ingested again and absorbed (seed {seed})");
    }

    private async Task PublishDeadLettersAsync()
    {
        var connection = await vhost.GetConnectionAsync(Ct);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), Ct);
        await channel.QueueDeclareAsync(ErrorQueue, durable: true, exclusive: false, autoDelete: false, cancellationToken: Ct);
        var failed = new DateTimeOffset(2026, 12, 3, 9, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < Messages; i++)
        {
            var properties = new BasicProperties
            {
                MessageId = "m-" + i.ToString(CultureInfo.InvariantCulture),
                Persistent = true,
                Headers = new Dictionary<string, object?>
                {
                    [WorkersHeaders.FaultExceptionType] = "System.TimeoutException",
                    [WorkersHeaders.FaultLastFailure] = failed.AddSeconds(i).ToString("O", CultureInfo.InvariantCulture),
                    [WorkersHeaders.FaultConsumer] = "Acme.Orders.PlaceOrderConsumer",
                    [WorkersHeaders.FaultQueue] = "payments", // a producer-settable header: never the stored queue
                },
            };
            await channel.BasicPublishAsync(string.Empty, ErrorQueue, mandatory: true, properties, Encoding.UTF8.GetBytes($"{{\"n\":{i}}}"), Ct);
        }
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }
}
