using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using RabbitMQ.Client;
using Workers.Benchmarks.Infrastructure;
using Workers.Hosting;
using Workers.Postgres;
using Workers.Postgres.FailureStore;
using Workers.Resilience;

namespace Workers.Benchmarks.FailureStore;

/// <summary>
/// <c>--failure-store [--messages N] [--batch B] [--rows N]</c>: the failure store's figures, printed, never asserted.
/// Ingest: N dead letters (realistic fault headers with a stack trace, ~1 KiB) pre-filled in a queue of a vhost of
/// its own, then one ingestion (the worker's, <see cref="DeadLetterIngestion"/>) drains them into a database of its
/// own: first delivery to last commit. Queries (with <c>--rows</c>): the table filled to N rows by SQL (40 groups,
/// 8 queues, four statuses), then the first page of a filtered list and the group counts, median of 5.
/// </summary>
internal static class FailureStoreBench
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var messages = 50_000;
        var batch = FailureStoreOptions.DefaultBatchSize;
        var rows = 0;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--messages" when i + 1 < args.Count:
                    messages = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--batch" when i + 1 < args.Count:
                    batch = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--rows" when i + 1 < args.Count:
                    rows = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                default:
                    Console.Error.WriteLine("usage: --failure-store [--messages N] [--batch B] [--rows N]");
                    return 2;
            }
        }

        await using var database = await BenchDatabase.CreateAsync("fs", cancellationToken);
        await WorkersSchema.ApplyAsync(database.ConnectionString, cancellationToken: cancellationToken);
        await IngestAsync(database, messages, batch, cancellationToken);
        if (rows > 0)
        {
            await QueriesAsync(database, rows, cancellationToken);
        }

        return 0;
    }

    private static async Task IngestAsync(BenchDatabase database, int messages, int batch, CancellationToken cancellationToken)
    {
        const string queue = "bench_error";
        await using var vhost = await BenchVhost.CreateAsync("fs", cancellationToken);
        var connection = await vhost.GetConnectionAsync(cancellationToken);
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken))
        {
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken);
            var inFlight = new List<Task>(100);
            for (var i = 0; i < messages; i++)
            {
                var properties = new BasicProperties
                {
                    MessageId = Guid.NewGuid().ToString(),
                    Persistent = true,
                    Headers = Headers(i),
                };
                inFlight.Add(channel.BasicPublishAsync(string.Empty, queue, mandatory: true, properties, Body, cancellationToken).AsTask());
                if (inFlight.Count == 100)
                {
                    await Task.WhenAll(inFlight);
                    inFlight.Clear();
                }
            }

            await Task.WhenAll(inFlight);
        }

        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        var ingestion = new DeadLetterIngestion(queue, new FailureStoreWriter(dataSource), batch, TimeProvider.System, NullLogger.Instance);
        var ingester = await new ConnectionFactory { Uri = vhost.Uri, ClientProvidedName = "workers-bench-failure-store" }.CreateConnectionAsync(cancellationToken);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var started = Stopwatch.GetTimestamp();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var run = ingestion.RunAsync(ingester, stop.Token);
        while (ingestion.Inserted + ingestion.DuplicatesAbsorbed < messages && !run.IsCompleted)
        {
            await Task.Delay(5, cancellationToken);
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        var cpuUsed = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        await stop.CancelAsync();
        try
        {
            await run;
        }
        catch (OperationCanceledException)
        {
        }

        await ingester.CloseAsync(cancellationToken);
        ingester.Dispose();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"failure store ingest: {messages} dead letters (batch {batch}) in {elapsed.TotalSeconds:F2} s = {messages / elapsed.TotalSeconds:F0} dead letters/s; {cpuUsed.TotalMilliseconds * 1000 / messages:F0} µs CPU each (this process); {ingestion.Inserted} rows"));

        // The same rows through the writer alone (no broker): the database's share of the ingest time, in the same run.
        var writer = new FailureStoreWriter(dataSource);
        var alone = Stopwatch.GetTimestamp();
        for (var done = 0; done < messages; done += batch)
        {
            var rows = Enumerable.Range(done, Math.Min(batch, messages - done))
                .Select(i => DeadLetterRecord.From(queue, "alone-" + i.ToString(CultureInfo.InvariantCulture), Headers(i), Body, DateTimeOffset.UtcNow))
                .ToList();
            await writer.InsertAsync(rows, cancellationToken);
        }

        var aloneElapsed = Stopwatch.GetElapsedTime(alone);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"failure store writer alone (same batch, no broker): {messages / aloneElapsed.TotalSeconds:F0} rows/s"));
    }

    private static async Task QueriesAsync(BenchDatabase database, int rows, CancellationToken cancellationToken)
    {
        var fill = Stopwatch.StartNew();
        await using (var filler = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database.ConnectionString) { CommandTimeout = 0 }.ConnectionString))
        {
            await filler.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand(
            $$"""
            INSERT INTO workers_failures (queue, dead_letter_queue, message_id, failure_key, consumer, message_type, headers, body, exception_type,
                exception_message, attempts, first_failure, last_failure, host, host_version, fingerprint, status, ingested_at)
            SELECT 'queue-' || (i % 8), 'queue-' || (i % 8) || '_error', 'fill-' || i, '', 'consumer-' || (i % 8), 'urn:message:Acme:M',
                   '{"MT-Fault-ExceptionType":"System.TimeoutException"}', '\x7b7d', 'Exception' || (i % 40), 'message ' || i, 3,
                   timestamptz '2026-01-01' + i * interval '1 second', timestamptz '2026-01-01' + i * interval '1 second',
                   'host', '1.' || (i / 250000), lpad(to_hex(i % 40), 16, '0'),
                   (ARRAY['unresolved','unresolved','unresolved','resolved','archived','replaying'])[1 + i % 6], now()
            FROM generate_series(1, {{rows}}) i;
            """,
            filler);
            await command.ExecuteNonQueryAsync(cancellationToken);
            await using var vacuum = new NpgsqlCommand("VACUUM ANALYZE workers_failures", filler);
            await vacuum.ExecuteNonQueryAsync(cancellationToken);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"failure store: {rows} rows filled by SQL in {fill.Elapsed.TotalSeconds:F1} s"));

        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var page = await MedianAsync(async () =>
        {
            await using var command = new NpgsqlCommand("SELECT id, message_id, exception_type, last_failure FROM workers_failures WHERE queue = 'queue-3' AND status = 'unresolved' ORDER BY id DESC LIMIT 50", connection);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
            }
        });
        var groups = await MedianAsync(async () => await WorkersFailureStore.ReadGroupsAsync(connection, new FailureGroupQuery([FailureStatus.Unresolved]), null, cancellationToken));
        var groupsOfQueue = await MedianAsync(async () => await WorkersFailureStore.ReadGroupsAsync(connection, new FailureGroupQuery([FailureStatus.Unresolved], Queue: "queue-3"), null, cancellationToken));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"failure store over {rows} rows: first page (queue + status, 50 newest) {page:F1} ms; group counts (unresolved) {groups:F1} ms; group counts of one queue {groupsOfQueue:F1} ms (medians of 5)"));
    }

    private static readonly byte[] Body = "{\"messageId\":\"x\",\"message\":{\"orderId\":\"6f0c\",\"customerId\":\"customer-1\",\"amount\":12.5},\"messageType\":[\"urn:message:Acme.Orders:SubmitOrder\"]}"u8.ToArray();

    private static readonly string Stack = string.Join('\n', Enumerable.Range(0, 12).Select(i => $"   at Acme.Orders.Step{i % 4}.RunAsync(OrderContext context) in /src/Acme/Orders/Step{i % 4}.cs:line {10 + i}"));

    /// <summary>The fault headers of dead letter <paramref name="i"/>, as the worker writes them (~1 KiB with the stack trace).</summary>
    private static Dictionary<string, object?> Headers(int i) => new()
    {
        [WorkersHeaders.FaultExceptionType] = i % 3 == 0 ? "System.TimeoutException" : "Acme.PaymentDeclinedException",
        [WorkersHeaders.FaultMessage] = "The payment provider timed out after 30 s.",
        [WorkersHeaders.FaultStackTrace] = Stack,
        [WorkersHeaders.FaultConsumer] = "submit-order",
        [WorkersHeaders.FaultInputAddress] = "rabbitmq://localhost/bench/bench",
        [WorkersHeaders.FaultAttempts] = 6,
        [WorkersHeaders.FaultFirstFailure] = "2026-12-03T10:00:00.0000000Z",
        [WorkersHeaders.FaultLastFailure] = new DateTimeOffset(2026, 12, 3, 10, 5, 0, TimeSpan.Zero).AddTicks(i).ToString("O", CultureInfo.InvariantCulture),
        [WorkersHeaders.FaultHostVersion] = "1.4.2",
        [WorkersHeaders.FaultHost] = "worker-7f9c/1",
    };

    private static async Task<double> MedianAsync(Func<Task> query)
    {
        var times = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await query();
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        times.Sort();
        return times[2];
    }
}
