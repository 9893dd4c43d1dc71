using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Workers.Resilience;
using Workers.Sample;
using Workers.Sample.Contracts;
using Workers.Sample.Orders;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Hosting;

/// <summary>
/// Issue 13.3 on the sample, with its circuit-breaker settings: a handful of messages that always fail must not stall an
/// endpoint (healthy orders flow within seconds, the bad ones exhaust their attempts and reach <c>_error</c>), while a
/// real outage (every fresh message fails) still opens the circuit after <c>MinimumThroughput</c> messages.
/// </summary>
public sealed class BadMessagesBreakerTests(ITestOutputHelper output)
{
    private const int Bad = 10;
    private const int Healthy = 2000;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    // The sample's appsettings.json for submit-order (the test host does not read that file).
    private static readonly Dictionary<string, string?> SampleSettings = new()
    {
        ["Sample:Payment:LatencyMs"] = "5",
        ["Workers:Defaults:Redelivery:MaxRedeliveryAttempts"] = "4",
        ["Workers:Defaults:Redelivery:Delay"] = "00:00:00.200",
        ["Workers:Defaults:Redelivery:MaxDelay"] = "00:00:05",
        ["Workers:Defaults:Redelivery:UseJitter"] = "true",
        ["Workers:Endpoints:submit-order:ConcurrentMessageLimit"] = "16",
        ["Workers:Endpoints:submit-order:Bulkhead:PermitLimit"] = "16",
        ["Workers:Endpoints:submit-order:Bulkhead:QueueLimit"] = "16",
        ["Workers:Endpoints:submit-order:CircuitBreaker:FailureRatio"] = "0.5",
        ["Workers:Endpoints:submit-order:CircuitBreaker:MinimumThroughput"] = "20",
        ["Workers:Endpoints:submit-order:CircuitBreaker:SamplingDuration"] = "00:00:10",
        ["Workers:Endpoints:submit-order:CircuitBreaker:BreakDuration"] = "00:00:05",
    };

    /// <param name="minimumThroughput">20 is the sample's: ten bad orders failing again and again must not open the
    /// circuit. With 10 they do open it, as an outage would (ten fresh failures, no success): the half-open probes that
    /// fail again are deferred, a healthy probe closes it, and the bad orders then use their attempts.</param>
    [Theory]
    [InlineData(20)]
    [InlineData(10)]
    public async Task TenAlwaysFailingOrders_AheadOfTwoThousandHealthy_HealthyFlowWithinSeconds_BadOnesDeadLettered(int minimumThroughput)
    {
        await using var vhost = new RabbitMqTestVhost();
        await vhost.InitializeAsync();
        await using var database = new PostgresTestDatabase();
        await database.InitializeAsync();
        var ledger = new OrderLedger();
        var transitions = new TransitionRecorder();
        var settings = new Dictionary<string, string?>(SampleSettings)
        {
            ["Workers:Endpoints:submit-order:CircuitBreaker:MinimumThroughput"] = minimumThroughput.ToString(CultureInfo.InvariantCulture),
        };
        using var host = SampleTestHost.Build(vhost.Uri, database.ConnectionString, ledger, settings, transitions);
        await host.StartAsync(TestContext.Current.CancellationToken);

        // Ten orders whose payment always fails with a transient error, just ahead of the healthy ones.
        var bad = Enumerable.Range(0, Bad).Select(i => new SubmitOrder(Guid.NewGuid(), $"flaky-1000000-bad-{i}", 1m)).ToList();
        var healthy = Enumerable.Range(0, Healthy).Select(i => new SubmitOrder(Guid.NewGuid(), $"customer-{i}", 10m + i)).ToList();
        var bus = host.Services.GetRequiredService<IBus>();
        var clock = Stopwatch.StartNew();
        foreach (var order in bad)
        {
            await bus.Publish(order, TestContext.Current.CancellationToken);
        }

        // "Just before": the healthy orders arrive once the bad ones have failed MinimumThroughput times between them
        // and, where that opened the circuit (as if the dependency were down), once all ten are back at the head of the queue.
        var registry = host.Services.GetRequiredService<CircuitBreakerRegistry>();
        await Eventually.HoldsAsync(
            async () => bad.Sum(o => ledger.Attempts.GetValueOrDefault(o.OrderId)) >= minimumThroughput
                && (registry.Find(SampleHost.OrdersQueue)?.State != CircuitState.Open || await vhost.CountReadyAsync(SampleHost.OrdersQueue, TestContext.Current.CancellationToken) == Bad),
            Bound,
            $"the bad orders failed {minimumThroughput} times (and, with the circuit open, are back in the queue)",
            TestContext.Current.CancellationToken);
        await Task.WhenAll(healthy.Select(o => bus.Publish(o, TestContext.Current.CancellationToken)));
        var published = clock.Elapsed;

        var healthyIds = healthy.Select(o => o.OrderId).ToHashSet();
        await Eventually.HoldsAsync(
            () => Task.FromResult(healthyIds.All(ledger.AcceptedOrders.ContainsKey)),
            Bound,
            () => Task.FromResult($"every healthy order accepted ({healthyIds.Count(ledger.AcceptedOrders.ContainsKey)} of {Healthy}; circuit {transitions.Describe()})"),
            TestContext.Current.CancellationToken);
        var healthyDone = clock.Elapsed;
        await vhost.WaitForReadyCountAsync(SampleHost.OrdersQueue + "_error", Bad, Bound, TestContext.Current.CancellationToken);
        var badDone = clock.Elapsed;
        await host.StopAsync(TestContext.Current.CancellationToken);

        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"MinimumThroughput {minimumThroughput}: published in {published.TotalSeconds:F1} s; {Healthy} healthy accepted after {healthyDone.TotalSeconds:F1} s; {Bad} bad in _error after {badDone.TotalSeconds:F1} s; circuit: {transitions.Describe()}"));
        Assert.All(healthy, o => Assert.Equal(1, ledger.AcceptedOrders[o.OrderId]));
        Assert.All(bad, o => Assert.False(ledger.AcceptedOrders.ContainsKey(o.OrderId)));

        // Each bad order used its attempts: the first delivery and its 4 redeliveries (the circuit returned none untouched for ever).
        Assert.All(bad, o => Assert.True(ledger.Attempts.GetValueOrDefault(o.OrderId) >= 5, $"order {o.OrderId}: {ledger.Attempts.GetValueOrDefault(o.OrderId)} attempt(s)"));
        Assert.True(transitions.Opened <= 1, $"the ten bad orders may look like an outage once at most, not again and again: {transitions.Describe()}");
    }

    [Fact]
    public async Task RealOutage_EveryFreshOrderFails_CircuitOpensAfterMinimumThroughput()
    {
        await using var vhost = new RabbitMqTestVhost();
        await vhost.InitializeAsync();
        await using var database = new PostgresTestDatabase();
        await database.InitializeAsync();
        var ledger = new OrderLedger();
        var settings = new Dictionary<string, string?>(SampleSettings) { ["Sample:Payment:Down"] = "true" };
        var transitions = new TransitionRecorder();
        using var host = SampleTestHost.Build(vhost.Uri, database.ConnectionString, ledger, settings, transitions);
        await host.StartAsync(TestContext.Current.CancellationToken);

        var orders = Enumerable.Range(0, 500).Select(i => new SubmitOrder(Guid.NewGuid(), $"customer-{i}", 10m + i)).ToList();
        var bus = host.Services.GetRequiredService<IBus>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(orders.Select(o => bus.Publish(o, TestContext.Current.CancellationToken)));
        var registry = host.Services.GetRequiredService<CircuitBreakerRegistry>();
        await Eventually.HoldsAsync(() => registry.Find(SampleHost.OrdersQueue)?.State == CircuitState.Open, Bound, "the circuit opened", TestContext.Current.CancellationToken);
        var opened = clock.Elapsed;
        var attempts = ledger.Attempts.Values.Sum();
        await host.StopAsync(TestContext.Current.CancellationToken);

        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"open after {opened.TotalSeconds:F2} s and {attempts} attempt(s) on {ledger.Attempts.Count} order(s); circuit: {transitions.Describe()}"));

        // MinimumThroughput (20) failed messages trip it; at most the 16 in flight when it trips fail alongside.
        Assert.InRange(attempts, 20, 20 + 16);
        Assert.Empty(ledger.AcceptedOrders);
        Assert.Equal(0u, await vhost.CountReadyAsync(SampleHost.OrdersQueue + "_error", TestContext.Current.CancellationToken) ?? 0u);
    }

    [Fact]
    public async Task BulkheadMovingOverflowToTheBack_KeepsEachMessagesAttemptCount()
    {
        await using var vhost = new RabbitMqTestVhost();
        await vhost.InitializeAsync();
        await using var database = new PostgresTestDatabase();
        await database.InitializeAsync();
        var ledger = new OrderLedger();
        var settings = new Dictionary<string, string?>(SampleSettings)
        {
            ["Sample:Payment:LatencyMs"] = "20",
            ["Workers:Defaults:Redelivery:MaxRedeliveryAttempts"] = "3",

            // Eight deliveries at once for two permits: most of them overflow and move to the back, again and again.
            ["Workers:Endpoints:submit-order:ConcurrentMessageLimit"] = "8",
            ["Workers:Endpoints:submit-order:PrefetchCount"] = "8",
            ["Workers:Endpoints:submit-order:Bulkhead:PermitLimit"] = "2",
            ["Workers:Endpoints:submit-order:Bulkhead:QueueLimit"] = "0",
            ["Workers:Endpoints:submit-order:Bulkhead:Overflow"] = "MoveToBack",
        };
        var transitions = new TransitionRecorder();
        using var host = SampleTestHost.Build(vhost.Uri, database.ConnectionString, ledger, settings, transitions);
        await host.StartAsync(TestContext.Current.CancellationToken);

        var bad = Enumerable.Range(0, Bad).Select(i => new SubmitOrder(Guid.NewGuid(), $"flaky-1000000-bad-{i}", 1m)).ToList();
        var healthy = Enumerable.Range(0, 300).Select(i => new SubmitOrder(Guid.NewGuid(), $"customer-{i}", 10m + i)).ToList();
        var bus = host.Services.GetRequiredService<IBus>();
        await Task.WhenAll(bad.Concat(healthy).Select(o => bus.Publish(o, TestContext.Current.CancellationToken)));

        await Eventually.HoldsAsync(() => healthy.All(o => ledger.AcceptedOrders.ContainsKey(o.OrderId)), Bound, "every healthy order accepted", TestContext.Current.CancellationToken);
        await vhost.WaitForReadyCountAsync(SampleHost.OrdersQueue + "_error", Bad, Bound, TestContext.Current.CancellationToken);
        var moved = host.Services.GetRequiredService<BulkheadRegistry>().GetSnapshots().Sum(b => b.Rejected);
        await host.StopAsync(TestContext.Current.CancellationToken);

        var attempts = bad.Select(o => ledger.Attempts.GetValueOrDefault(o.OrderId)).ToList();
        output.WriteLine($"{moved} overflow moves; attempts of the bad orders: {string.Join(", ", attempts)}");
        Assert.True(moved > 0, "the bulkhead moved overflow to the back");

        // A move to the back is not an attempt and does not reset the count: first delivery + 3 redeliveries, exactly.
        Assert.All(attempts, n => Assert.Equal(4, n));
        Assert.All(healthy, o => Assert.Equal(1, ledger.AcceptedOrders[o.OrderId]));
    }

    /// <summary>This host's circuit transitions (log events 4100 opened, 4101 half-open, 4102 closed) with their moments.</summary>
    private sealed class TransitionRecorder : ILoggerProvider
    {
        private readonly ConcurrentQueue<string> seen = new();
        private readonly Stopwatch clock = Stopwatch.StartNew();

        public int Opened => seen.Count(s => s.StartsWith("open@", StringComparison.Ordinal));

        public string Describe() => seen.IsEmpty ? "never left closed" : string.Join(" → ", seen);

        public ILogger CreateLogger(string categoryName) => new Recorder(this);

        public void Dispose()
        {
        }

        private sealed class Recorder(TransitionRecorder owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var to = eventId.Id switch { 4100 => "open", 4101 => "half-open", 4102 => "closed", 4106 => "probe deferred", _ => null };
                if (to is not null)
                {
                    owner.seen.Enqueue(string.Create(CultureInfo.InvariantCulture, $"{to}@{owner.clock.Elapsed.TotalSeconds:F1}s"));
                }
            }
        }
    }
}
