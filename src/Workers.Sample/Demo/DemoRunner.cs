using System.Diagnostics;
using System.Globalization;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Workers.Hosting;
using Workers.Sample.Contracts;
using Workers.Sample.Orders;

namespace Workers.Sample.Demo;

/// <summary>
/// The first five minutes: runs the sample workers on the local services, publishes a workload of orders
/// (most valid, some invalid, some whose payment fails at first), shows progress, and reports where every
/// message went. Options: <c>--orders N</c> (default 200), <c>--invalid N</c> (10), <c>--flaky N</c> (20),
/// <c>--timeout SECONDS</c> (120).
/// </summary>
internal static class DemoRunner
{
    public static async Task<int> RunAsync(HostApplicationBuilder builder, string[] args)
    {
        var total = IntArg(args, "--orders", 200);
        var invalid = Math.Min(IntArg(args, "--invalid", 10), total);
        var flaky = Math.Min(IntArg(args, "--flaky", 20), total - invalid);
        var timeout = TimeSpan.FromSeconds(IntArg(args, "--timeout", 120));

        // Keep the console for the demo's own output: the workers log warnings and errors only.
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("MassTransit", LogLevel.Critical);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Workers", LogLevel.Error);

        // The invalid orders are dead-lettered on purpose: the summary below counts them, their log events would
        // only bury the progress line (their fault details are in submit-order_error: workers dlq list submit-order).
        builder.Logging.AddFilter("Workers.Resilience.Redelivery", LogLevel.Critical);

        using var host = builder.Build();
        var options = host.Services.GetRequiredService<IOptions<WorkersOptions>>().Value;
        var ledger = host.Services.GetRequiredService<OrderLedger>();
        Console.WriteLine($"Workers demo: {total} orders through the sample workers on {MaskedUri(options.RabbitMq.Uri)}");

        await using var depths = await QueueDepths.ConnectAsync(options.RabbitMq.Uri);
        var errorsBefore = Math.Max(0, await depths.CountAsync(SampleHost.OrdersQueue + "_error"));

        var started = Stopwatch.StartNew();
        Console.Write("  starting the workers ... ");
        await host.StartAsync();
        Console.WriteLine($"ready in {started.Elapsed.TotalSeconds:0.0} s");

        var bus = host.Services.GetRequiredService<IBus>();
        var orders = BuildWorkload(total, invalid, flaky);
        var publish = Stopwatch.StartNew();
        await Task.WhenAll(orders.Select(o => bus.Publish(o)));
        Console.WriteLine($"  published {total} orders ({invalid} invalid, {flaky} whose payment fails at first) in {publish.Elapsed.TotalSeconds:0.00} s, each confirmed by the broker");

        var valid = total - invalid;
        var deadline = Stopwatch.StartNew();
        long deadLettered = 0;
        while (true)
        {
            deadLettered = Math.Max(0, await depths.CountAsync(SampleHost.OrdersQueue + "_error")) - errorsBefore;
            var accepted = ledger.AcceptedOrders.Count;
            DrawProgress(accepted, valid, deadLettered, ledger);
            if (accepted + deadLettered >= total || deadline.Elapsed > timeout)
            {
                break;
            }

            await Task.Delay(200);
        }

        Console.WriteLine();
        var finished = ledger.AcceptedOrders.Count + deadLettered >= total;
        Console.Write("  stopping gracefully ... ");
        var stopping = Stopwatch.StartNew();
        await host.StopAsync();
        Console.WriteLine($"stopped in {stopping.Elapsed.TotalSeconds:0.0} s");

        PrintSummary(orders, ledger, deadLettered);
        Console.WriteLine();
        Console.WriteLine("Where the messages are now:");
        foreach (var queue in new[] { SampleHost.OrdersQueue, SampleHost.OrdersQueue + "_error", SampleHost.NotificationsQueue, SampleHost.NotificationsQueue + "_error" })
        {
            var count = await depths.CountAsync(queue);
            Console.WriteLine($"  {queue,-28} {(count < 0 ? "(not created)" : count.ToString(CultureInfo.InvariantCulture) + " message(s)")}");
        }

        Console.WriteLine();
        Console.WriteLine(finished
            ? $"Done in {started.Elapsed.TotalSeconds:0.0} s: every order is accounted for. Inspect dead letters with: workers dlq list {SampleHost.OrdersQueue}"
            : $"Timed out after {timeout.TotalSeconds:0} s with orders still in flight: see the queues above.");
        return finished ? 0 : 1;
    }

    private static List<SubmitOrder> BuildWorkload(int total, int invalid, int flaky)
    {
        var orders = new List<SubmitOrder>(total);
        for (var i = 0; i < total; i++)
        {
            var id = Guid.NewGuid();
            orders.Add(i switch
            {
                _ when i < invalid => new SubmitOrder(id, $"customer-{i}", -1m),
                _ when i < invalid + flaky => new SubmitOrder(id, $"flaky-2-customer-{i}", 10m + i),
                _ => new SubmitOrder(id, $"customer-{i}", 10m + i),
            });
        }

        // Interleave the kinds, as real traffic would be.
        return [.. orders.OrderBy(_ => Random.Shared.Next())];
    }

    private static void DrawProgress(int accepted, int valid, long deadLettered, OrderLedger ledger)
    {
        const int width = 30;
        var done = valid == 0 ? width : (int)Math.Round(width * Math.Min(1.0, accepted / (double)valid));
        var retries = ledger.Attempts.Values.Sum(n => Math.Max(0, n - 1));
        Console.Write($"\r  [{new string('#', done)}{new string('.', width - done)}] {accepted}/{valid} accepted, {retries} retried, {deadLettered} dead-lettered   ");
    }

    private static void PrintSummary(List<SubmitOrder> orders, OrderLedger ledger, long deadLettered)
    {
        var duplicates = ledger.AcceptedOrders.Values.Count(n => n > 1);
        var flakyAccepted = orders.Count(o => o.CustomerId.StartsWith("flaky-", StringComparison.Ordinal) && ledger.AcceptedOrders.ContainsKey(o.OrderId));
        var notified = ledger.NotifiedOrders.Count;
        Console.WriteLine();
        Console.WriteLine("What happened:");
        Console.WriteLine($"  accepted (paid)            {ledger.AcceptedOrders.Count}");
        Console.WriteLine($"    of which after a retry   {flakyAccepted}");
        Console.WriteLine($"  notified (OrderAccepted)   {notified}");
        Console.WriteLine($"  dead-lettered              {deadLettered}");
        Console.WriteLine($"  duplicate effects          {duplicates}");
        Console.WriteLine($"  attempts in all            {ledger.Attempts.Values.Sum()}");
    }

    private static int IntArg(string[] args, string name, int fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length && int.TryParse(args[index + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 0
            ? value
            : fallback;
    }

    private static string MaskedUri(string uri) =>
        Uri.TryCreate(uri, UriKind.Absolute, out var parsed) && parsed.UserInfo.Contains(':', StringComparison.Ordinal)
            ? new UriBuilder(parsed) { Password = "***" }.Uri.ToString()
            : uri;

    /// <summary>Reads queue depths with passive declares on a connection of its own.</summary>
    private sealed class QueueDepths(IConnection connection) : IAsyncDisposable
    {
        public static async Task<QueueDepths> ConnectAsync(string uri)
        {
            var factory = new ConnectionFactory { Uri = new Uri(uri), ClientProvidedName = "workers-demo" };
            return new QueueDepths(await factory.CreateConnectionAsync());
        }

        /// <summary>Messages in the queue, or -1 when it does not exist.</summary>
        public async Task<long> CountAsync(string queue)
        {
            await using var channel = await connection.CreateChannelAsync();
            try
            {
                var ok = await channel.QueueDeclarePassiveAsync(queue);
                return ok.MessageCount;
            }
            catch (OperationInterruptedException)
            {
                return -1;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await connection.CloseAsync();
            connection.Dispose();
        }
    }
}
