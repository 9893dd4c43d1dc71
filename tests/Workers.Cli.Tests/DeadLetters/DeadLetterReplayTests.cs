using Workers.Cli.Tests.Contracts;
using Workers.Cli.Tests.Support;
using Workers.Resilience;
using Workers.Testing;
using Xunit;

namespace Workers.Cli.Tests.DeadLetters;

public sealed class DeadLetterReplayTests(RabbitMqTestVhost vhost) : BrokerTestClass(vhost)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task FilteredReplay_MovesExactlyTheMatchedOnes_AndTheyAreConsumed()
    {
        var consumers = new TestConsumers();
        await using var bus = await Broker.StartBusAsync(cfg => cfg.ReceiveEndpoint("replay-filter", consumers.Configure));
        var (orders, payments) = await Broker.SeedMassTransitDeadLettersAsync(bus, consumers, "replay-filter", orders: 4, payments: 3);
        var workersStyle = await Broker.PublishWorkersDeadLetterAsync("replay-filter_error", "replay-filter", new OrderSubmitted { Number = 9 }, "System.Net.Http.HttpRequestException", 4, DateTimeOffset.UtcNow);
        consumers.FailAll = false;

        var result = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "replay-filter", "--type", typeof(OrderSubmitted).FullName!, "--exception", "InvalidOperationException"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("matched 4, replayed 4, skipped 0, failed 0", result.Output, StringComparison.Ordinal);
        await consumers.WaitForAsync(c => c.Received.Count >= 4, Timeout);
        Assert.Equal(orders.Order(), consumers.Received.Select(r => r.MessageId).Order());
        Assert.All(consumers.Received, r => Assert.NotNull(r.ReplayId));
        Assert.All(consumers.Received, r => Assert.DoesNotContain(r.HeaderNames, h => h.StartsWith("MT-Fault-", StringComparison.Ordinal) || h.StartsWith("Workers-Fault-", StringComparison.Ordinal)));
        var left = await Broker.DrainAsync("replay-filter_error");
        Assert.Equal(payments.Append(workersStyle).Order(), left.Select(m => m.MessageId).Order());
    }

    [Fact]
    public async Task ForgedFaultQueueHeader_OnAMessageMassTransitDeadLettered_DoesNotRedirectTheReplay()
    {
        await Broker.DeclareQueueAsync("replay-victim");
        var id = Guid.NewGuid().ToString();
        var consumers = new TestConsumers();
        await using (var bus = await Broker.StartBusAsync(cfg => cfg.ReceiveEndpoint("replay-trusted", consumers.Configure)))
        {
            // Malformed JSON: MassTransit dead-letters it itself and carries the producer's headers along.
            var forged = new Dictionary<string, object?> { [WorkersHeaders.FaultQueue] = "replay-victim" };
            await Broker.PublishRawAsync("replay-trusted", id, "application/vnd.masstransit+json", "{ not json"u8.ToArray(), forged);
            await Broker.WaitForReadyAsync("replay-trusted_error", n => n == 1, Timeout);
        }

        var result = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "replay-trusted"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("replayed 1", result.Output, StringComparison.Ordinal);
        Assert.Equal(0u, await Broker.CountOrZeroAsync("replay-victim"));
        Assert.Equal([id], (await Broker.DrainAsync("replay-trusted")).Select(m => m.MessageId).ToList());
    }

    [Fact]
    public async Task InjectedFaultHeadersNamingAnotherQueue_AreIgnoredWithAWarning_TheTargetIsTheEndpoint()
    {
        await Broker.DeclareQueueAsync("replay-injected");
        await Broker.DeclareQueueAsync("replay-injected_error");
        await Broker.DeclareQueueAsync("replay-injected-victim");
        var id = Guid.NewGuid().ToString();

        // Anyone who may write to the vhost can put a message in the dead-letter queue with any fault header.
        var injected = new Dictionary<string, object?>
        {
            [WorkersHeaders.FaultQueue] = "replay-injected-victim",
            [WorkersHeaders.FaultInputAddress] = $"rabbitmq://localhost/{Vhost.Name}/replay-injected-victim",
            [WorkersHeaders.FaultExceptionType] = "System.TimeoutException",
        };
        await Broker.PublishRawAsync("replay-injected_error", id, "application/vnd.masstransit+json", "{}"u8.ToArray(), injected);

        var dry = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "replay-injected", "--dry-run"), cancellationToken: TestContext.Current.CancellationToken);
        var result = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "replay-injected"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(dry.ExitCode == 0, dry.ToString());
        Assert.Contains($"would replay {id} (?) -> 'replay-injected' (fault headers name 'replay-injected-victim': ignored)", dry.Output, StringComparison.Ordinal);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("replayed 1", result.Output, StringComparison.Ordinal);
        Assert.Contains("warning: 1 message(s) name another queue in their fault headers ('replay-injected-victim' ×1); ignored", result.Error, StringComparison.Ordinal);
        Assert.Equal(0u, await Broker.ReadyCountAsync("replay-injected-victim"));
        Assert.Equal([id], (await Broker.DrainAsync("replay-injected")).Select(m => m.MessageId).ToList());
    }

    [Fact]
    public async Task SkippedMessage_WithAForgedFaultQueue_IsReplayedFromTheSkippedQueueIntoItsEndpoint()
    {
        await Broker.DeclareQueueAsync("replay-skip-victim");
        var id = Guid.NewGuid();
        var consumers = new TestConsumers();
        await using (var bus = await Broker.StartBusAsync(cfg => cfg.ReceiveEndpoint("replay-skip", consumers.Configure)))
        {
            // A message type no consumer knows: MassTransit moves it to _skipped itself, the producer's headers along.
            var host = new Uri($"rabbitmq://localhost/{Vhost.Name}/");
            var body = Workers.Cli.Publish.MassTransitEnvelope.Create(id, Guid.NewGuid(), "urn:message:Nobody:Knows", new System.Text.Json.Nodes.JsonObject(), new Uri(host, "producer"), new Uri(host, "replay-skip"), DateTimeOffset.UtcNow, new Dictionary<string, string>());
            await Broker.PublishRawAsync("replay-skip", id.ToString("D"), "application/vnd.masstransit+json", body, new Dictionary<string, object?> { [WorkersHeaders.FaultQueue] = "replay-skip-victim" });
            await Broker.WaitForReadyAsync("replay-skip_skipped", n => n == 1, Timeout);
        }

        var result = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "replay-skip_skipped"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("matched 1, replayed 1", result.Output, StringComparison.Ordinal);
        Assert.Equal(0u, await Broker.ReadyCountAsync("replay-skip-victim"));
        Assert.Equal([id.ToString("D")], (await Broker.DrainAsync("replay-skip")).Select(m => m.MessageId).ToList());
    }

    [Fact]
    public async Task ReplayThatFailsAgain_IsNotReplayedTwiceInTheSameRun()
    {
        var consumers = new TestConsumers();
        await using var bus = await Broker.StartBusAsync(cfg => cfg.ReceiveEndpoint("replay-loop", consumers.Configure));
        var (orders, _) = await Broker.SeedMassTransitDeadLettersAsync(bus, consumers, "replay-loop", orders: 5, payments: 0);

        var result = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "replay-loop", "--rate", "20"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("matched 5, replayed 5", result.Output, StringComparison.Ordinal);
        await Broker.WaitForReadyAsync("replay-loop_error", n => n == 5, Timeout);
        var back = await Broker.DrainAsync("replay-loop_error");
        Assert.Equal(orders.Order(), back.Select(m => m.MessageId).Order());
        var replayIds = back.Select(m => m.Headers.GetValueOrDefault(WorkersHeaders.ReplayId)).Distinct().ToList();
        Assert.Single(replayIds);
        Assert.NotNull(replayIds[0]);
    }

    [Fact]
    public async Task Canary_StopsWhenACanaryFailsAgain_AndKeepsTheRest()
    {
        var consumers = new TestConsumers();
        await using var bus = await Broker.StartBusAsync(cfg => cfg.ReceiveEndpoint("replay-canary", consumers.Configure));
        var (orders, _) = await Broker.SeedMassTransitDeadLettersAsync(bus, consumers, "replay-canary", orders: 6, payments: 0);
        var before = (await CliRunner.RunAsync(Broker.Args("dlq", "list", "replay-canary", "--json"), cancellationToken: TestContext.Current.CancellationToken)).Output;
        var started = DateTime.UtcNow;

        var result = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "replay-canary", "--canary", "2", "--canary-wait", "60"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("canary message", result.Error, StringComparison.Ordinal);
        Assert.Contains("replayed 2", result.Output, StringComparison.Ordinal);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(50), "the canary failure should stop the run before the watch window ends");
        await Broker.WaitForReadyAsync("replay-canary_error", n => n == 6, Timeout);
        var after = await Broker.DrainAsync("replay-canary_error");
        Assert.Equal(orders.Order(), after.Select(m => m.MessageId).Order());
        Assert.Equal(2, after.Count(m => m.Headers.ContainsKey(WorkersHeaders.ReplayId)));
        Assert.NotNull(before);
    }

    [Fact]
    public async Task CanaryThatPasses_ReplaysTheRest()
    {
        var consumers = new TestConsumers();
        await using var bus = await Broker.StartBusAsync(cfg => cfg.ReceiveEndpoint("replay-canary-ok", consumers.Configure));
        var (orders, payments) = await Broker.SeedMassTransitDeadLettersAsync(bus, consumers, "replay-canary-ok", orders: 3, payments: 2);
        consumers.FailAll = false;

        var result = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "replay-canary-ok", "--canary", "2", "--canary-wait", "2"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("did not fail within 2 s", result.Error, StringComparison.Ordinal);
        Assert.Contains("matched 5, replayed 5, skipped 0, failed 0", result.Output, StringComparison.Ordinal);
        await consumers.WaitForAsync(c => c.Received.Count >= 5, Timeout);
        Assert.Equal(orders.Concat(payments).Order(), consumers.Received.Select(r => r.MessageId).Order());
        Assert.Equal(0u, await Broker.ReadyCountAsync("replay-canary-ok_error"));
    }

    [Fact]
    public async Task TimeWindowAndMax_SelectByLastFailure_FromTheHead()
    {
        await Broker.DeclareQueueAsync("replay-window-target");
        var old = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var ids = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            ids.Add(await Broker.PublishWorkersDeadLetterAsync("replay-window_error", "replay-window-target", new OrderSubmitted { Number = i }, "System.TimeoutException", 2, old.AddDays(i)));
        }

        // Days 1..4 match the window; --max 2 takes the first two of them in queue order (into the queue typed with --to:
        // the one the fault headers name is not the endpoint of replay-window_error, so it is not trusted).
        var result = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "replay-window", "--since", "2026-01-02T00:00:00Z", "--until", "2026-01-05T00:00:00Z", "--max", "2", "--to", "replay-window-target", "--allow-beyond-retention"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal([ids[1], ids[2]], (await Broker.DrainAsync("replay-window-target")).Select(m => m.MessageId).ToList());
        Assert.Equal([ids[0], ids[3], ids[4], ids[5]], (await Broker.DrainAsync("replay-window_error")).Select(m => m.MessageId).ToList());
    }

    [Fact]
    public async Task DryRun_ChangesNothing()
    {
        var consumers = new TestConsumers();
        await using var bus = await Broker.StartBusAsync(cfg => cfg.ReceiveEndpoint("replay-dry", consumers.Configure));
        await Broker.SeedMassTransitDeadLettersAsync(bus, consumers, "replay-dry", orders: 3, payments: 2);
        consumers.FailAll = false;
        var before = await CliRunner.RunAsync(Broker.Args("dlq", "list", "replay-dry", "--json"), cancellationToken: TestContext.Current.CancellationToken);

        var result = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "replay-dry", "--dry-run"), cancellationToken: TestContext.Current.CancellationToken);
        var after = await CliRunner.RunAsync(Broker.Args("dlq", "list", "replay-dry", "--json"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("would replay 5", result.Output, StringComparison.Ordinal);
        Assert.Equal(before.Output, after.Output);
        Assert.Empty(consumers.Received);
        Assert.Equal(0u, await Broker.ReadyCountAsync("replay-dry"));
    }

    [Fact]
    public async Task ReplayTo_AnotherQueue_KeepsMessageIdAndStripsFaultHeaders()
    {
        await Broker.DeclareQueueAsync("replay-to-target");
        var id = await Broker.PublishWorkersDeadLetterAsync("replay-to_error", "replay-to", new OrderSubmitted { Number = 1 }, "System.TimeoutException", 6, DateTimeOffset.UtcNow);

        var result = await CliRunner.RunAsync(Broker.Args("dlq", "replay", "replay-to", "--to", "replay-to-target", "--id", id), cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 0, result.ToString());
        var moved = Assert.Single(await Broker.DrainAsync("replay-to-target"));
        Assert.Equal(id, moved.MessageId);
        Assert.DoesNotContain(moved.Headers.Keys, k => WorkersHeaders.FaultHeaderPrefixes.Any(p => k.StartsWith(p, StringComparison.Ordinal)));
        Assert.NotNull(moved.Headers[WorkersHeaders.ReplayId]);
        Assert.NotNull(moved.Headers[WorkersHeaders.ReplayedAt]);
        Assert.Equal(0u, await Broker.ReadyCountAsync("replay-to_error"));
    }

    [Fact]
    public async Task Purge_CountsFirst_NeedsYes_AndDeletesOnlyTheMatched()
    {
        var keep = await Broker.PublishWorkersDeadLetterAsync("purge-me_error", "purge-me", new OrderSubmitted { Number = 1 }, "System.TimeoutException", 2, DateTimeOffset.UtcNow);
        await Broker.PublishWorkersDeadLetterAsync("purge-me_error", "purge-me", new PaymentCaptured { Number = 2 }, "System.InvalidOperationException", 2, DateTimeOffset.UtcNow);
        var keep2 = await Broker.PublishWorkersDeadLetterAsync("purge-me_error", "purge-me", new OrderSubmitted { Number = 3 }, "System.TimeoutException", 2, DateTimeOffset.UtcNow);

        var unfiltered = await CliRunner.RunAsync(Broker.Args("dlq", "purge", "purge-me", "--yes"), cancellationToken: TestContext.Current.CancellationToken);
        var counted = await CliRunner.RunAsync(Broker.Args("dlq", "purge", "purge-me", "--type", typeof(PaymentCaptured).FullName!), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(3u, await Broker.ReadyCountAsync("purge-me_error"));
        var purged = await CliRunner.RunAsync(Broker.Args("dlq", "purge", "purge-me", "--type", typeof(PaymentCaptured).FullName!, "--yes"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(2, unfiltered.ExitCode);
        Assert.Equal(2, counted.ExitCode);
        Assert.Contains("1 of 3 message(s)", counted.Output, StringComparison.Ordinal);
        Assert.True(purged.ExitCode == 0, purged.ToString());
        Assert.Equal([keep, keep2], (await Broker.DrainAsync("purge-me_error")).Select(m => m.MessageId).ToList());
    }
}
