using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Time.Testing;
using RabbitMQ.Client;
using Workers.Resilience.Redelivery;
using Workers.Testing;
using Xunit;

namespace Workers.Resilience.Tests.Integration;

/// <summary>
/// Issue 13 §2: only a broker outage puts a message back untouched. Each case made the redelivery stage hold the message
/// ("broker unavailable") forever before the fix; on the real RabbitMQ (own vhost), each must now end in a redelivery or
/// a dead letter within a bounded time.
/// </summary>
public sealed class RedeliveryRefusalTests : IClassFixture<RabbitMqTestVhost>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private readonly RabbitMqTestVhost vhost;

    public RedeliveryRefusalTests(RabbitMqTestVhost vhost) => this.vhost = vhost;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("-1")]
    [InlineData("1000")]
    public async Task ForgedRedeliveryCount_IsIgnored_MessageGetsItsRetriesThenDeadLetters(string forged)
    {
        var queue = Unique("forged");
        var recorder = new AttemptRecorder { DefaultFailTimes = int.MaxValue };
        var options = new RedeliveryOptions { Delay = TimeSpan.FromMilliseconds(100), MaxRedeliveryAttempts = 2 };
        await using var bus = await TestBus.StartAsync(vhost.Uri, (cfg, ctx) => cfg.ReceiveEndpoint(queue, e =>
        {
            e.UseWorkersRedelivery(ctx, options);
            e.Handler<RedeliveryProbe>(recorder.ConsumeAsync);
        }), Token);

        var id = await PublishRawAsync(queue, new BasicProperties { Headers = new Dictionary<string, object?> { [WorkersHeaders.RedeliveryCount] = Encoding.UTF8.GetBytes(forged) } });
        var error = await RawAmqp.GetAsync(vhost.Uri, queue + "_error", Deadline);

        Assert.Equal(id.ToString(), error.BasicProperties.MessageId);
        Assert.Equal("exhausted", RawAmqp.Text(error.BasicProperties.Headers![WorkersHeaders.FaultDisposition]));
        Assert.Equal("2", RawAmqp.Text(error.BasicProperties.Headers[WorkersHeaders.RedeliveryCount]));
        Assert.Equal(3, recorder.AttemptsOf(id).Count); // first delivery + 2 redeliveries, whatever the producer wrote
    }

    [Fact]
    public async Task ProducerSetUserId_IsNotCopied_RedeliveryAndDeadLetterGoThrough()
    {
        var queue = Unique("userid");
        var user = Unique("producer");
        const string password = "producer-secret";
        (await vhost.Management.PutAsJsonAsync($"api/users/{Uri.EscapeDataString(user)}", new { password, tags = "" }, Token)).EnsureSuccessStatusCode();
        try
        {
            (await vhost.Management.PutAsJsonAsync($"api/permissions/{Uri.EscapeDataString(vhost.Name)}/{Uri.EscapeDataString(user)}", new { configure = ".*", write = ".*", read = ".*" }, Token)).EnsureSuccessStatusCode();
            var recorder = new AttemptRecorder { DefaultFailTimes = int.MaxValue };
            var options = new RedeliveryOptions { Delay = TimeSpan.FromMilliseconds(100), MaxRedeliveryAttempts = 1 };
            await using var bus = await TestBus.StartAsync(vhost.Uri, (cfg, ctx) => cfg.ReceiveEndpoint(queue, e =>
            {
                e.UseWorkersRedelivery(ctx, options);
                e.Handler<RedeliveryProbe>(recorder.ConsumeAsync);
            }), Token);

            // Another service, connected as its own user, stamps user_id (the broker accepts it: it is that connection's user).
            var producerUri = new UriBuilder(vhost.Uri) { UserName = Uri.EscapeDataString(user), Password = password }.Uri;
            var id = await PublishRawAsync(queue, new BasicProperties { UserId = user }, producerUri);
            var error = await RawAmqp.GetAsync(vhost.Uri, queue + "_error", Deadline);

            Assert.Equal(id.ToString(), error.BasicProperties.MessageId);
            Assert.Null(error.BasicProperties.UserId);
            Assert.Equal("exhausted", RawAmqp.Text(error.BasicProperties.Headers![WorkersHeaders.FaultDisposition]));
            Assert.Equal([0, 1], recorder.AttemptsOf(id).Select(a => a.RedeliveryCount));
        }
        finally
        {
            using var deleted = await vhost.Management.DeleteAsync($"api/users/{Uri.EscapeDataString(user)}", Token);
        }
    }

    [Fact]
    public async Task ErrorQueueDeclaredWithOtherArguments_IsTakenAsItIs()
    {
        var queue = Unique("otherargs");
        var connection = await vhost.GetConnectionAsync(Token);
        await using (var channel = await connection.CreateChannelAsync(cancellationToken: Token))
        {
            await channel.QueueDeclareAsync(queue + "_error", durable: true, exclusive: false, autoDelete: false, new Dictionary<string, object?> { ["x-max-length"] = 1000 }, cancellationToken: Token);
        }

        var recorder = new AttemptRecorder { DefaultFailTimes = int.MaxValue, Failure = () => new PermanentFailureException("bad order") };
        await using var bus = await TestBus.StartAsync(vhost.Uri, (cfg, ctx) => cfg.ReceiveEndpoint(queue, e =>
        {
            e.UseWorkersRedelivery(ctx, new RedeliveryOptions { Delay = TimeSpan.FromMilliseconds(100) });
            e.Handler<RedeliveryProbe>(recorder.ConsumeAsync);
        }), Token);

        var id = NewId.NextGuid();
        await bus.SendAsync(queue, new RedeliveryProbe("bad"), id);
        var error = await RawAmqp.GetAsync(vhost.Uri, queue + "_error", Deadline);

        Assert.Equal(id.ToString(), error.BasicProperties.MessageId);
        Assert.Equal("permanent", RawAmqp.Text(error.BasicProperties.Headers![WorkersHeaders.FaultDisposition]));
        Assert.Single(recorder.AttemptsOf(id));
    }

    [Fact]
    public async Task ErrorQueueDeletedWhileRunning_IsDeclaredAgain()
    {
        var queue = Unique("errgone");
        var recorder = new AttemptRecorder { DefaultFailTimes = int.MaxValue, Failure = () => new PermanentFailureException("bad order") };
        await using var bus = await TestBus.StartAsync(vhost.Uri, (cfg, ctx) => cfg.ReceiveEndpoint(queue, e =>
        {
            e.UseWorkersRedelivery(ctx, new RedeliveryOptions { Delay = TimeSpan.FromMilliseconds(100) });
            e.Handler<RedeliveryProbe>(recorder.ConsumeAsync);
        }), Token);
        var first = NewId.NextGuid();
        await bus.SendAsync(queue, new RedeliveryProbe("bad 1"), first);
        Assert.Equal(first.ToString(), (await RawAmqp.GetAsync(vhost.Uri, queue + "_error", Deadline)).BasicProperties.MessageId);

        var connection = await vhost.GetConnectionAsync(Token);
        await using (var channel = await connection.CreateChannelAsync(cancellationToken: Token))
        {
            await channel.QueueDeleteAsync(queue + "_error", cancellationToken: Token);
        }

        var second = NewId.NextGuid();
        await bus.SendAsync(queue, new RedeliveryProbe("bad 2"), second);
        var error = await RawAmqp.GetAsync(vhost.Uri, queue + "_error", Deadline);

        Assert.Equal(second.ToString(), error.BasicProperties.MessageId);
        Assert.Single(recorder.AttemptsOf(second));
    }

    [Fact]
    public Task LadderExchangeDeletedWhileRunning_IsDeclaredAgain() =>
        // 100 ms enters the ladder at level 0.
        AssertOneRedeliveryComesBackAfterAsync("laddergone", (channel, _) => channel.ExchangeDeleteAsync(DelayLadder.LevelName(0), cancellationToken: Token));

    [Fact]
    public Task DestinationBindingLost_IsBoundAgain_DelayedCopyComesBack() =>
        // What a queue deleted and re-created while workers run looks like: the queue is there, its ladder binding is not.
        AssertOneRedeliveryComesBackAfterAsync("rebind", (channel, queue) => channel.QueueUnbindAsync(
            queue,
            DelayLadder.DeliveryExchange,
            string.Empty,
            new Dictionary<string, object?> { ["x-match"] = "all", [WorkersHeaders.Destination] = queue },
            cancellationToken: Token));

    // A warm endpoint (its ladder declared and bound) loses part of that topology on the broker; the next failing
    // message must still be redelivered once through the ladder and then succeed.
    private async Task AssertOneRedeliveryComesBackAfterAsync(string name, Func<IChannel, string, Task> breakTopology)
    {
        var queue = Unique(name);
        var recorder = new AttemptRecorder { DefaultFailTimes = 1 };
        await using var bus = await StartWarmAsync(queue, recorder);

        var connection = await vhost.GetConnectionAsync(Token);
        await using (var channel = await connection.CreateChannelAsync(cancellationToken: Token))
        {
            await breakTopology(channel, queue);
        }

        var id = NewId.NextGuid();
        await bus.SendAsync(queue, new RedeliveryProbe("after"), id);
        var attempts = await recorder.WaitForSuccessAsync(id, Deadline);

        Assert.Equal([0, 1], attempts.Select(a => a.RedeliveryCount));
    }

    [Fact]
    public async Task FallbackLongerThanThePublishTimeout_DoesNotUseUpThePublishBudget()
    {
        var queue = Unique("slowfallback");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var fallbackCalls = 0;
        var recorder = new AttemptRecorder { DefaultFailTimes = int.MaxValue, Failure = () => new PermanentFailureException("bad order") };
        var deadLetter = new DeadLetterOptions { FallbackTimeout = TimeSpan.FromMinutes(2) };
        await using var bus = await TestBus.StartAsync(vhost.Uri, time, (cfg, ctx) => cfg.ReceiveEndpoint(queue, e =>
        {
            e.UseWorkersRedelivery(ctx, new RedeliveryOptions { Delay = TimeSpan.FromMilliseconds(100) }, deadLetter, fallback: _ =>
            {
                // A compensation that takes a minute on the framework's clock (longer than the 30 s publish timeout).
                Interlocked.Increment(ref fallbackCalls);
                time.Advance(TimeSpan.FromMinutes(1));
                return Task.CompletedTask;
            });
            e.Handler<RedeliveryProbe>(recorder.ConsumeAsync);
        }), Token);

        var id = NewId.NextGuid();
        await bus.SendAsync(queue, new RedeliveryProbe("bad"), id);
        var error = await RawAmqp.GetAsync(vhost.Uri, queue + "_error", Deadline);

        Assert.Equal(id.ToString(), error.BasicProperties.MessageId);
        Assert.Equal(1, Volatile.Read(ref fallbackCalls));
        Assert.Single(recorder.AttemptsOf(id));
    }

    // A bus whose endpoint already redelivered once (ladder, binding and publisher channel in place).
    private async Task<TestBus> StartWarmAsync(string queue, AttemptRecorder recorder)
    {
        var bus = await TestBus.StartAsync(vhost.Uri, (cfg, ctx) => cfg.ReceiveEndpoint(queue, e =>
        {
            e.UseWorkersRedelivery(ctx, new RedeliveryOptions { Delay = TimeSpan.FromMilliseconds(100) });
            e.Handler<RedeliveryProbe>(recorder.ConsumeAsync);
        }), Token);
        var warmUp = NewId.NextGuid();
        await bus.SendAsync(queue, new RedeliveryProbe("warm-up"), warmUp);
        await recorder.WaitForSuccessAsync(warmUp, Deadline);
        return bus;
    }

    private async Task<Guid> PublishRawAsync(string queue, BasicProperties properties, Uri? publisherUri = null)
    {
        var id = NewId.NextGuid();
        var envelope = new Dictionary<string, object?>
        {
            ["messageId"] = id,
            ["messageType"] = new[] { "urn:message:" + typeof(RedeliveryProbe).Namespace + ":" + nameof(RedeliveryProbe) },
            ["message"] = new { text = "raw" },
        };

        // The endpoint's queue exists once the bus started; publish to it through the default exchange, confirmed.
        var factory = new ConnectionFactory { Uri = publisherUri ?? vhost.Uri };
        await using var connection = await factory.CreateConnectionAsync(Token);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), Token);
        properties.ContentType = MassTransitEnvelope.ContentType;
        properties.MessageId = id.ToString();
        properties.Persistent = true;
        await channel.BasicPublishAsync(string.Empty, queue, mandatory: true, properties, Encoding.UTF8.GetBytes(JsonSerializer.Serialize(envelope)), Token);
        return id;
    }

    private static string Unique(string name) => $"{name}-{Guid.NewGuid():N}"[..(name.Length + 9)];
}
