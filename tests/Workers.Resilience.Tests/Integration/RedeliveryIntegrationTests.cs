using System.ComponentModel.DataAnnotations;
using System.Text;
using MassTransit;
using Workers.Resilience.Broker;
using Workers.Resilience.Redelivery;
using Workers.Testing;
using Xunit;

namespace Workers.Resilience.Tests.Integration;

/// <summary>
/// Redelivery through the broker's delay ladder and dead-lettering, on the real RabbitMQ (own vhost).
/// Timing tolerance: an observed gap between two attempts must lie in
/// [expected − 20 ms, expected + <see cref="Tolerance"/> + <see cref="PerHop"/> × ladder levels the delay passes through]
/// (the ladder rounds delays up to 100 ms; each level is one at-least-once dead-letter transfer, whose latency grows
/// on a loaded 2-core machine — a 6 s delay crosses 4 levels and was seen 1.2 s late with the whole suite running).
/// </summary>
public sealed class RedeliveryIntegrationTests : IClassFixture<RabbitMqTestVhost>
{
    private static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan PerHop = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan Early = TimeSpan.FromMilliseconds(20);
    private readonly RabbitMqTestVhost vhost;

    public RedeliveryIntegrationTests(RabbitMqTestVhost vhost) => this.vhost = vhost;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ConsumerFailingThreeTimes_IsConsumedOnceAfterThreeRedeliveries_WithExponentialGaps()
    {
        var queue = Unique("flaky");
        var recorder = new AttemptRecorder { DefaultFailTimes = 3 };
        var options = new RedeliveryOptions { Delay = TimeSpan.FromMilliseconds(200), MaxDelay = TimeSpan.FromSeconds(10), MaxRedeliveryAttempts = 5 };
        await using var bus = await TestBus.StartAsync(vhost.Uri, (cfg, ctx) => cfg.ReceiveEndpoint(queue, e =>
        {
            e.UseWorkersRedelivery(ctx, options);
            e.Handler<RedeliveryProbe>(recorder.ConsumeAsync);
        }), Token);
        await WarmUpAsync(bus, queue, recorder);
        var id = NewId.NextGuid();
        var correlation = NewId.NextGuid();

        await bus.SendAsync(queue, new RedeliveryProbe("flaky"), id, correlation, tenant: "acme");
        var attempts = await recorder.WaitForSuccessAsync(id, TimeSpan.FromSeconds(30));

        Assert.Equal([0, 1, 2, 3], attempts.Select(a => a.RedeliveryCount));
        Assert.All(attempts, a =>
        {
            Assert.Equal(id, a.MessageId);
            Assert.Equal(correlation, a.CorrelationId);
            Assert.Equal("acme", a.Tenant);
            Assert.Equal(attempts[0].Body, a.Body);
        });
        Assert.Null(attempts[0].ReceivedFrom is { Length: > 0 } e0 && e0.StartsWith(DelayLadder.Prefix, StringComparison.Ordinal) ? e0 : null);
        Assert.All(attempts.Skip(1), a => Assert.StartsWith(DelayLadder.Prefix, a.ReceivedFrom, StringComparison.Ordinal));
        AssertGaps(attempts, options);

        // Exactly once: nothing left in the ladder, nothing skipped or dead-lettered, one success.
        await WaitForLadderEmptyAsync();
        Assert.Equal(1, recorder.SuccessesOf(id));
        Assert.Equal(4, recorder.AttemptsOf(id).Count);
        Assert.True(await RawAmqp.CountAsync(vhost.Uri, queue + "_skipped") <= 0);
        Assert.True(await RawAmqp.CountAsync(vhost.Uri, queue + "_error") <= 0);
    }

    [Fact]
    public async Task ManyMessagesWithDifferentDelays_InFlightAtOnce_NoneBlocksAnother()
    {
        var slowQueue = Unique("slow");
        var fastQueue = Unique("fast");
        var slow = new AttemptRecorder { DefaultFailTimes = 1 };
        var fast = new AttemptRecorder();
        var fastOptions = new RedeliveryOptions { Delay = TimeSpan.FromMilliseconds(200), MaxDelay = TimeSpan.FromSeconds(10) };
        var slowOptions = new RedeliveryOptions { Delay = TimeSpan.FromSeconds(6), MaxDelay = TimeSpan.FromSeconds(10) };
        using var meter = new WorkersMeterProbe();
        await using var bus = await TestBus.StartAsync(vhost.Uri, (cfg, ctx) =>
        {
            cfg.ReceiveEndpoint(slowQueue, e =>
            {
                e.UseWorkersRedelivery(ctx, slowOptions);
                e.Handler<RedeliveryProbe>(slow.ConsumeAsync);
            });
            cfg.ReceiveEndpoint(fastQueue, e =>
            {
                e.UseWorkersRedelivery(ctx, fastOptions);
                e.Handler<RedeliveryProbe>(fast.ConsumeAsync);
            });
        }, Token);

        await WarmUpAsync(bus, fastQueue, fast);
        await WarmUpAsync(bus, slowQueue, slow, failTimes: 0);

        // The long delay goes into the ladder first...
        var slowId = NewId.NextGuid();
        await bus.SendAsync(slowQueue, new RedeliveryProbe("slow"), slowId);
        await meter.WaitAsync(RedeliveryDiagnostics.ScheduledName, slowQueue, 1, TimeSpan.FromSeconds(10));
        var slowScheduledAt = AttemptRecorder.Now;

        // ...then 15 messages needing 1, 2 or 3 redeliveries (200, 400, 800 ms) share the ladder with it.
        var fastIds = Enumerable.Range(0, 15).Select(_ => NewId.NextGuid()).ToList();
        for (var i = 0; i < fastIds.Count; i++)
        {
            fast.FailTimes[fastIds[i]] = 1 + (i % 3);
            await bus.SendAsync(fastQueue, new RedeliveryProbe("fast"), fastIds[i]);
        }

        var fastDone = new List<TimeSpan>();
        foreach (var id in fastIds)
        {
            var attempts = await fast.WaitForSuccessAsync(id, TimeSpan.FromSeconds(20));
            Assert.Equal(Enumerable.Range(0, fast.FailTimes[id] + 1), attempts.Select(a => a.RedeliveryCount));
            AssertGaps(attempts, fastOptions);
            fastDone.Add(attempts[^1].At);
        }

        var slowAttempts = await slow.WaitForSuccessAsync(slowId, TimeSpan.FromSeconds(30));
        Assert.True(fastDone.Max() < slowAttempts[1].At, "every short delay completed before the long one enqueued earlier");
        Assert.True(fastDone.Max() - slowScheduledAt < TimeSpan.FromSeconds(4), $"the short delays were held back: last done {(fastDone.Max() - slowScheduledAt).TotalMilliseconds:0} ms after the long one was scheduled");
        AssertGaps(slowAttempts, slowOptions);
    }

    [Fact]
    public async Task ExhaustedAttempts_PerConsumer_LandInErrorQueueWithAllFaultHeaders_EvenWhenFallbackFails()
    {
        var queue = Unique("exhausted");
        var recorder = new AttemptRecorder { DefaultFailTimes = int.MaxValue };
        var fallbackCalls = 0;
        var options = new RedeliveryOptions { Delay = TimeSpan.FromMilliseconds(200), MaxRedeliveryAttempts = 2, ImmediateRetries = 1 };
        using var meter = new WorkersMeterProbe();
        await using var bus = await TestBus.StartAsync(vhost.Uri, (cfg, ctx) => cfg.ReceiveEndpoint(queue, e =>
            e.Consumer(() => new AlwaysFailingConsumer(recorder), c => c.UseWorkersRedelivery(ctx, options, fallback: args =>
            {
                Interlocked.Increment(ref fallbackCalls);
                Assert.Equal("exhausted", args.Reason);
                Assert.Equal(6, args.Attempts);
                throw new InvalidOperationException("the fallback fails too");
            }))), Token);
        var id = NewId.NextGuid();
        var correlation = NewId.NextGuid();
        var before = DateTimeOffset.UtcNow;

        await bus.SendAsync(queue, new RedeliveryProbe("doomed"), id, correlation, tenant: "acme");
        var error = await RawAmqp.GetAsync(vhost.Uri, queue + "_error", TimeSpan.FromSeconds(30));

        var headers = error.BasicProperties.Headers!;
        string H(string key) => RawAmqp.Text(headers.TryGetValue(key, out var v) ? v : null);
        Assert.Equal(id.ToString(), error.BasicProperties.MessageId);
        Assert.Equal(correlation.ToString(), error.BasicProperties.CorrelationId);
        Assert.Equal(recorder.AttemptsOf(id)[0].Body, error.Body.ToArray());
        Assert.Equal("acme", H("tenant"));
        Assert.Equal("fault", H(WorkersHeaders.Reason));
        Assert.Equal(typeof(TimeoutException).FullName, H(WorkersHeaders.FaultExceptionType));
        Assert.Equal("partner did not answer", H(WorkersHeaders.FaultMessage));
        Assert.Contains(nameof(AttemptRecorder.ConsumeAsync), H(WorkersHeaders.FaultStackTrace), StringComparison.Ordinal);
        Assert.Equal(typeof(AlwaysFailingConsumer).FullName, H(WorkersHeaders.FaultConsumerType));
        Assert.Equal(typeof(AlwaysFailingConsumer).FullName, H(WorkersHeaders.FaultConsumer));
        Assert.Contains(queue, H(WorkersHeaders.FaultInputAddress), StringComparison.Ordinal);
        Assert.Contains("RedeliveryProbe", H(WorkersHeaders.FaultMessageType), StringComparison.Ordinal);
        Assert.Equal(Environment.MachineName, H(WorkersHeaders.HostMachineName));
        Assert.StartsWith(Environment.MachineName, H(WorkersHeaders.FaultHost), StringComparison.Ordinal);
        Assert.Equal("6", H(WorkersHeaders.FaultAttempts));
        Assert.Equal(queue, H(WorkersHeaders.FaultQueue));
        Assert.Equal("exhausted", H(WorkersHeaders.FaultDisposition));
        Assert.Equal("2", H(WorkersHeaders.RedeliveryCount));
        var first = DateTimeOffset.Parse(H(WorkersHeaders.FaultFirstFailure), System.Globalization.CultureInfo.InvariantCulture);
        var last = DateTimeOffset.Parse(H(WorkersHeaders.FaultLastFailure), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(first, before.AddSeconds(-1), last);
        Assert.True(last - first >= TimeSpan.FromMilliseconds(600 - 20), $"first {first:O}, last {last:O}: the two redeliveries take 200 + 400 ms");
        Assert.Equal(H(WorkersHeaders.FaultLastFailure), H(WorkersHeaders.FaultTimestamp));
        Assert.False(headers.ContainsKey("x-death"));
        Assert.False(headers.ContainsKey(WorkersHeaders.Destination));

        Assert.Equal(6, recorder.AttemptsOf(id).Count);
        Assert.Equal([0, 0, 1, 1, 2, 2], recorder.AttemptsOf(id).Select(a => a.RedeliveryCount));
        Assert.Equal(1, fallbackCalls);
        Assert.Equal(2, meter.Count(RedeliveryDiagnostics.ScheduledName, queue));
        Assert.Equal(1, meter.Count(RedeliveryDiagnostics.DeadLetteredName, queue));
        Assert.Equal(1, meter.Count("workers.deadletter.moved", queue)); // the replacement of the deprecated .count name
        Assert.True(await RawAmqp.CountAsync(vhost.Uri, queue + "_skipped") <= 0);
        Assert.Equal(0, await RawAmqp.CountAsync(vhost.Uri, queue + "_error"));
    }

    [Fact]
    public async Task PermanentFailure_SkipsRedelivery_FallbackCompensates_ThenErrorQueue()
    {
        var queue = Unique("permanent");
        var compensation = Unique("compensation");
        var recorder = new AttemptRecorder { DefaultFailTimes = int.MaxValue, Failure = () => new ValidationException("amount must be positive") };
        var options = new RedeliveryOptions { Delay = TimeSpan.FromMilliseconds(200), ImmediateRetries = 3 };
        await using var bus = await TestBus.StartAsync(vhost.Uri, (cfg, ctx) => cfg.ReceiveEndpoint(queue, e =>
        {
            e.UseWorkersRedelivery(ctx, options, fallback: async args =>
            {
                var endpoint = await args.Context.GetSendEndpoint(new Uri($"queue:{compensation}"));
                await endpoint.Send(new RedeliveryProbe("compensate " + args.Context.MessageId), args.CancellationToken);
            });
            e.Handler<RedeliveryProbe>(recorder.ConsumeAsync);
        }), Token);
        var id = NewId.NextGuid();

        await bus.SendAsync(queue, new RedeliveryProbe("invalid"), id);
        var error = await RawAmqp.GetAsync(vhost.Uri, queue + "_error", TimeSpan.FromSeconds(15));
        var compensated = await RawAmqp.GetAsync(vhost.Uri, compensation, TimeSpan.FromSeconds(15));

        var headers = error.BasicProperties.Headers!;
        Assert.Equal(id.ToString(), error.BasicProperties.MessageId);
        Assert.Equal("permanent", RawAmqp.Text(headers[WorkersHeaders.FaultDisposition]));
        Assert.Equal("1", RawAmqp.Text(headers[WorkersHeaders.FaultAttempts]));
        Assert.Equal(typeof(ValidationException).FullName, RawAmqp.Text(headers[WorkersHeaders.FaultExceptionType]));
        Assert.Equal(queue, RawAmqp.Text(headers[WorkersHeaders.FaultConsumer]));
        Assert.Single(recorder.AttemptsOf(id));
        Assert.Contains("compensate " + id, Encoding.UTF8.GetString(compensated.Body.Span), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownTypeGoesToSkipped_MalformedPayloadGoesToError_ConsumerKeepsWorking()
    {
        var queue = Unique("badinput");
        var recorder = new AttemptRecorder();
        await using var bus = await TestBus.StartAsync(vhost.Uri, (cfg, ctx) => cfg.ReceiveEndpoint(queue, e =>
        {
            e.UseWorkersRedelivery(ctx, new RedeliveryOptions { Delay = TimeSpan.FromMilliseconds(200) });
            e.Handler<RedeliveryProbe>(recorder.ConsumeAsync);
        }), Token);
        var unknownId = NewId.NextGuid();
        var malformedId = NewId.NextGuid();
        var goodId = NewId.NextGuid();
        var unknown = $$$"""{"messageId":"{{{unknownId}}}","messageType":["urn:message:Nobody:Knows"],"message":{"text":"?"}}""";

        await RawAmqp.PublishAsync(vhost.Uri, queue, "application/vnd.masstransit+json", Encoding.UTF8.GetBytes(unknown), unknownId);
        await RawAmqp.PublishAsync(vhost.Uri, queue, "application/vnd.masstransit+json", Encoding.UTF8.GetBytes("{\"messageId\": not json"), malformedId);
        await bus.SendAsync(queue, new RedeliveryProbe("good"), goodId);

        await recorder.WaitForSuccessAsync(goodId, TimeSpan.FromSeconds(15));
        var skipped = await RawAmqp.GetAsync(vhost.Uri, queue + "_skipped", TimeSpan.FromSeconds(15));
        var error = await RawAmqp.GetAsync(vhost.Uri, queue + "_error", TimeSpan.FromSeconds(15));

        Assert.Equal(unknownId.ToString(), skipped.BasicProperties.MessageId);
        Assert.Equal(malformedId.ToString(), error.BasicProperties.MessageId);
        Assert.Equal("{\"messageId\": not json", Encoding.UTF8.GetString(error.Body.Span));

        // A payload that cannot be read never reaches the consume pipe: MassTransit's own error transport moves it, with its fault headers.
        var headers = error.BasicProperties.Headers!;
        Assert.Equal("fault", RawAmqp.Text(headers[WorkersHeaders.Reason]));
        Assert.Contains("Json", RawAmqp.Text(headers[WorkersHeaders.FaultExceptionType]), StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(RawAmqp.Text(headers[WorkersHeaders.FaultMessage])));
        Assert.False(headers.ContainsKey(WorkersHeaders.FaultDisposition));
        Assert.Equal(1, recorder.SuccessesOf(goodId));
    }

    [Fact]
    public async Task BrokerRequirements_AcceptThisBroker_AndDeclareTheLadderAsQuorumQueues()
    {
        await BrokerRequirements.VerifyAsync(vhost.Uri, Token);
        await BrokerRequirements.VerifyAsync(vhost.Uri, Token); // idempotent

        for (var level = 0; level < DelayLadder.Levels; level++)
        {
            var info = await vhost.GetQueueAsync(DelayLadder.LevelName(level), Token);
            Assert.NotNull(info);
            Assert.Equal("quorum", info.Type);
        }
    }

    [Fact]
    public async Task BrokerRequirements_UnreachableBroker_FailsWithActionableMessage()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => BrokerRequirements.VerifyAsync(new Uri("amqp://guest:secret@127.0.0.1:1/"), Token));

        Assert.Contains("cannot reach the RabbitMQ broker at 127.0.0.1:1/", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
    }

    internal static void AssertGaps(IReadOnlyList<Attempt> attempts, RedeliveryOptions options)
    {
        for (var i = 1; i < attempts.Count; i++)
        {
            var expected = DelayLadder.Effective(RedeliveryDelayCalculator.GetDelay(options, i));
            var hops = System.Numerics.BitOperations.PopCount((ulong)DelayLadder.ToUnits(expected));
            var late = Tolerance + (PerHop * hops);
            var gap = attempts[i].At - attempts[i - 1].At;
            TestContext.Current.TestOutputHelper?.WriteLine($"redelivery {i}: expected {expected.TotalMilliseconds:0} ms ({hops} hop(s)), observed {gap.TotalMilliseconds:0} ms");
            Assert.True(
                gap >= expected - Early && gap <= expected + late,
                $"gap before redelivery {i} was {gap.TotalMilliseconds:0} ms, expected {expected.TotalMilliseconds:0} ms (−{Early.TotalMilliseconds:0}/+{late.TotalMilliseconds:0} ms for {hops} hop(s))");
        }
    }

    // The first failure of an endpoint pays one-time costs (MassTransit declares its Fault<T> exchange, the delivery binding and
    // the publisher channel are created): a warm-up message takes them, so that the measured gaps show the broker's delays.
    private static async Task WarmUpAsync(TestBus bus, string queue, AttemptRecorder recorder, int failTimes = 1)
    {
        var id = NewId.NextGuid();
        recorder.FailTimes[id] = failTimes;
        await bus.SendAsync(queue, new RedeliveryProbe("warm-up"), id);
        await recorder.WaitForSuccessAsync(id, TimeSpan.FromSeconds(20));
    }

    private async Task WaitForLadderEmptyAsync()
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var total = 0L;
            for (var level = 0; level < DelayLadder.Levels; level++)
            {
                total += Math.Max(0, await RawAmqp.CountAsync(vhost.Uri, DelayLadder.LevelName(level)));
            }

            if (total == 0)
            {
                return;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), $"{total} messages still in the delay ladder");
            await Task.Delay(100, Token);
        }
    }

    private static string Unique(string name) => $"{name}-{Guid.NewGuid():N}"[..(name.Length + 9)];
}

/// <summary>A consumer that fails every time (through the recorder).</summary>
public sealed class AlwaysFailingConsumer : IConsumer<RedeliveryProbe>
{
    private readonly AttemptRecorder recorder;

    internal AlwaysFailingConsumer(AttemptRecorder recorder) => this.recorder = recorder;

    /// <inheritdoc />
    public Task Consume(ConsumeContext<RedeliveryProbe> context) => recorder.ConsumeAsync(context);
}
