using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Workers.IntegrationTests.Deploy;
using Workers.Sample;
using Workers.Sample.Contracts;
using Workers.Sample.Orders;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Hosting;

/// <summary>
/// Issue 18: MassTransit logs <c>R-FAULT</c> at error level, with the stack, for every attempt, also those Workers is
/// about to redeliver. On the sample, an order that always fails transiently (three attempts, then <c>_error</c>) is
/// logged by Workers once per outcome — two redeliveries scheduled (3002, warning), one dead letter (3003, error, with
/// the exception) — and MassTransit's entry only at <c>Workers:Telemetry:MassTransitFaultLogLevel</c>.
/// </summary>
public sealed class MassTransitFaultLogTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(null, 0)]
    [InlineData("Warning", 3)]
    public async Task AlwaysFailingOrder_WorkersLogsEachOutcomeOnce_MassTransitsFaultOnlyAtTheConfiguredLevel(string? level, int faultWarnings)
    {
        await using var vhost = new RabbitMqTestVhost();
        await vhost.InitializeAsync();
        await using var database = new PostgresTestDatabase();
        await database.InitializeAsync();
        var settings = new Dictionary<string, string?>
        {
            ["Workers:Defaults:Redelivery:MaxRedeliveryAttempts"] = "2",
            ["Workers:Defaults:Redelivery:ImmediateRetries"] = "0",
            ["Workers:Defaults:Redelivery:Delay"] = "00:00:00.200",
            ["Workers:Defaults:Redelivery:MaxDelay"] = "00:00:01",
            ["Workers:Telemetry:MassTransitFaultLogLevel"] = level,
        };
        var logs = new RecordingLoggerProvider();
        var ledger = new OrderLedger();
        using var host = SampleTestHost.Build(vhost.Uri, database.ConnectionString, ledger, settings, logs);
        await host.StartAsync(TestContext.Current.CancellationToken);

        var order = new SubmitOrder(Guid.NewGuid(), "flaky-1000000-log", 1m);
        await host.Services.GetRequiredService<IBus>().Publish(order, TestContext.Current.CancellationToken);
        await vhost.WaitForReadyCountAsync(SampleHost.OrdersQueue + "_error", 1, Bound, TestContext.Current.CancellationToken);
        await host.StopAsync(TestContext.Current.CancellationToken);

        var entries = logs.Entries.ToList();
        Assert.Equal(3, ledger.Attempts.GetValueOrDefault(order.OrderId));
        Assert.Equal(2, entries.Count(e => e.StartsWith("Warning Workers.", StringComparison.Ordinal) && e.Contains(" [3002] ", StringComparison.Ordinal)));
        var deadLettered = Assert.Single(entries, e => e.Contains(" [3003] ", StringComparison.Ordinal));
        Assert.StartsWith("Error ", deadLettered, StringComparison.Ordinal);
        Assert.Contains("PaymentUnavailableException: The payment provider timed out (attempt 3", deadLettered, StringComparison.Ordinal);

        var faults = entries.Where(e => e.Contains("R-FAULT", StringComparison.Ordinal) && e.Contains(" MassTransit", StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain(faults, e => e.StartsWith("Error ", StringComparison.Ordinal));
        Assert.Equal(faultWarnings, faults.Count(e => e.StartsWith("Warning MassTransit.", StringComparison.Ordinal)));
    }
}
