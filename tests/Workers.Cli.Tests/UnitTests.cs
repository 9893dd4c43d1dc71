using System.Globalization;
using RabbitMQ.Client;
using Workers.Cli.Broker;
using Workers.Cli.DeadLetters;
using Workers.Resilience;
using Xunit;

namespace Workers.Cli.Tests;

/// <summary>The pure helpers, without any service.</summary>
public sealed class UnitTests
{
    [Fact]
    public void MaskUri_HidesThePasswordOnly()
    {
        Assert.Equal("amqp://guest:***@host:5673/vh", Secrets.MaskUri(new Uri("amqp://guest:s3cret@host:5673/vh")));
        Assert.Equal("s3cret", Secrets.PasswordOf(new Uri("amqp://guest:s3cret@host:5673/vh")));
        Assert.DoesNotContain("pw1", Secrets.MaskConnectionString("Host=h;Username=u;Password=pw1;Database=d"), StringComparison.Ordinal);
    }

    [Fact]
    public void DeadLetterListAndShow_NeutraliseTerminalEscapesInMessageContent()
    {
        const string clear = "\u001b[2J\u001b]0;pwned\u0007";
        var properties = new BasicProperties
        {
            MessageId = "id-\u001b[31m",
            ContentType = "application/json",
            Headers = new Dictionary<string, object?>
            {
                [WorkersHeaders.FaultExceptionType] = "System.Exception",
                [WorkersHeaders.FaultMessage] = "boom" + clear,
                ["x-note\u009b"] = "rewrite\rline",
            },
        };
        var body = System.Text.Encoding.UTF8.GetBytes("not json\nsecond line" + clear);
        var message = new DeadLetterMessage(1, properties, body, 0);

        var row = string.Concat(DeadLetterCommands.ListRow(message));
        var show = DeadLetterCommands.FormatShow(message, 1);

        Assert.DoesNotContain(row, char.IsControl);
        Assert.DoesNotContain(show, c => char.IsControl(c) && c != '\n');
        Assert.Contains("\\u001b[2J", show, StringComparison.Ordinal);
        Assert.Contains("\\u009b", show, StringComparison.Ordinal);
        Assert.Contains("not json\nsecond line", show, StringComparison.Ordinal);
        Assert.Contains("id-\\u001b[31m", row, StringComparison.Ordinal);
    }

    [Fact]
    public void SourceQueue_ComesFromTheInputAddress_BeforeAForgeableFaultQueueHeader()
    {
        var forged = new BasicProperties
        {
            Headers = new Dictionary<string, object?>
            {
                [WorkersHeaders.FaultInputAddress] = "rabbitmq://localhost/vh/orders",
                [WorkersHeaders.FaultQueue] = "victim",
            },
        };
        var workersOnly = new BasicProperties { Headers = new Dictionary<string, object?> { [WorkersHeaders.FaultQueue] = "payments" } };

        Assert.Equal("orders", new DeadLetterMessage(1, forged, "{}"u8.ToArray(), 0).SourceQueue);
        Assert.Equal("payments", new DeadLetterMessage(2, workersOnly, "{}"u8.ToArray(), 1).SourceQueue);
    }

    [Theory]
    [InlineData("orders_error", null, "orders")]
    [InlineData("orders_skipped", null, "orders")]
    [InlineData("orders_error", "orders-v2", "orders-v2")]
    public void ReplayTarget_IsToOrTheDeadLetterQueuesEndpoint(string deadLetterQueue, string? to, string expected) =>
        Assert.Equal(expected, ReplayCommand.TrustedTarget(deadLetterQueue, to));

    [Fact]
    public void ReplayTarget_AHeaderNamingAnotherQueue_IsReportedAndNeutralisedInShow()
    {
        var forged = new BasicProperties
        {
            MessageId = "m-1",
            Headers = new Dictionary<string, object?>
            {
                [WorkersHeaders.FaultQueue] = "victim\u001b[2J",
            },
        };
        var honest = new BasicProperties { Headers = new Dictionary<string, object?> { [WorkersHeaders.FaultQueue] = "orders" } };
        var message = new DeadLetterMessage(1, forged, "{}"u8.ToArray(), 0);

        var show = DeadLetterCommands.FormatShow(message, 1, "orders");

        Assert.Equal("victim\u001b[2J", ReplayCommand.DisagreeingHeaderQueue(message, "orders"));
        Assert.Null(ReplayCommand.DisagreeingHeaderQueue(new DeadLetterMessage(2, honest, "{}"u8.ToArray(), 1), "orders"));
        Assert.Contains("replay-target:    orders\n", show.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("the fault headers name 'victim\\u001b[2J': ignored", show, StringComparison.Ordinal);
        Assert.DoesNotContain(show, c => char.IsControl(c) && c != '\n');
    }

    [Fact]
    public void KeptCopy_HasTheOriginalsPropertiesAndHeaders_WithoutTheDeliveryCount()
    {
        var original = new BasicProperties
        {
            MessageId = "m-1",
            CorrelationId = "c-1",
            ContentType = "application/vnd.masstransit+json",
            ContentEncoding = "utf-8",
            Type = "t",
            AppId = "app",
            ReplyTo = "reply",
            Expiration = "600000",
            Priority = 3,
            Timestamp = new AmqpTimestamp(1_700_000_000),
            DeliveryMode = DeliveryModes.Persistent,
            Headers = new Dictionary<string, object?>
            {
                [WorkersHeaders.FaultQueue] = "orders"u8.ToArray(),
                ["x-delivery-count"] = 3L,
                ["tenant"] = "acme"u8.ToArray(),
            },
        };

        var copy = DeadLetterLap.KeepProperties(original);

        Assert.Equal(("m-1", "c-1", "application/vnd.masstransit+json", "utf-8", "t", "app", "reply", "600000"), (copy.MessageId, copy.CorrelationId, copy.ContentType, copy.ContentEncoding, copy.Type, copy.AppId, copy.ReplyTo, copy.Expiration));
        Assert.Equal(((byte)3, 1_700_000_000L, DeliveryModes.Persistent), (copy.Priority, copy.Timestamp.UnixTime, copy.DeliveryMode));
        Assert.Equal(new[] { WorkersHeaders.FaultQueue, "tenant" }.Order(StringComparer.Ordinal), copy.Headers!.Keys.Order(StringComparer.Ordinal));
        Assert.Same(original.Headers[WorkersHeaders.FaultQueue], copy.Headers[WorkersHeaders.FaultQueue]);
        Assert.True(original.Headers.ContainsKey("x-delivery-count"));
    }

    [Fact]
    public async Task StreamingOutput_TableAndJson_WrittenInChunks()
    {
        var table = new StringWriter();
        var writer = new Workers.Cli.Output.StreamingTable(table, ["ID", "NAME"]);
        await writer.WriteAsync([["1", "a"], ["22", "b"]]);
        await writer.WriteAsync([["333", "c"]]);
        var json = new StringWriter();
        var array = new Workers.Cli.Output.JsonArrayWriter(json);
        await array.WriteAsync(new System.Text.Json.Nodes.JsonObject { ["id"] = "1", ["text"] = "two\nlines" });
        await array.WriteAsync(new System.Text.Json.Nodes.JsonObject { ["id"] = "2" });
        await array.CompleteAsync();
        var empty = new StringWriter();
        await new Workers.Cli.Output.JsonArrayWriter(empty).CompleteAsync();

        Assert.Equal(["ID  NAME", "1   a", "22  b", "333  c"], table.ToString().TrimEnd().Split(Environment.NewLine));
        var parsed = System.Text.Json.Nodes.JsonNode.Parse(json.ToString())!.AsArray();
        Assert.Equal(["1", "2"], parsed.Select(e => e!["id"]!.GetValue<string>()));
        Assert.Equal("two\nlines", parsed[0]!["text"]!.GetValue<string>());
        Assert.Empty(System.Text.Json.Nodes.JsonNode.Parse(empty.ToString())!.AsArray());
    }

    [Fact]
    public void Redact_ReplacesEveryRegisteredSecret()
    {
        var console = new CliConsole(TextWriter.Null, TextWriter.Null, TextReader.Null, false, false);
        console.RegisterSecret("hunter2");

        Assert.Equal("login with *** failed", console.Redact("login with hunter2 failed"));
    }

    [Theory]
    [InlineData("rabbitmq://localhost:5672/vh/orders", "orders")]
    [InlineData("rabbitmq://localhost/orders?bind=true", "orders")]
    [InlineData("queue:orders", "orders")]
    [InlineData("not an address", null)]
    public void QueueFromAddress_TakesTheLastSegment(string address, string? expected) =>
        Assert.Equal(expected, QueueNames.FromAddress(address));

    [Fact]
    public void ErrorQueueNames_FollowMassTransit()
    {
        Assert.Equal("orders_error", QueueNames.ErrorQueueOf("orders"));
        Assert.Equal("orders_error", QueueNames.ErrorQueueOf("orders_error"));
        Assert.Equal("orders_skipped", QueueNames.ErrorQueueOf("orders_skipped"));
        Assert.Equal("orders", QueueNames.EndpointOf("orders_skipped"));
        Assert.True(QueueNames.IsDeadLetterQueue("orders_skipped"));
        Assert.False(QueueNames.IsDeadLetterQueue("orders"));
    }

    [Theory]
    [InlineData("50", 50d)]
    [InlineData("50/s", 50d)]
    [InlineData("120/m", 2d)]
    public void ParseRate_AcceptsPerSecondAndPerMinute(string text, double expected) =>
        Assert.Equal(expected, Pacer.ParseRate(text, "--rate"));

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("fast")]
    public void ParseRate_RejectsNonPositive(string text) =>
        Assert.Equal(ExitCodes.Usage, Assert.Throws<CliException>(() => Pacer.ParseRate(text, "--rate")).ExitCode);

    [Fact]
    public void ParseTime_AcceptsIsoAndDurationsAgo()
    {
        var now = new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

        Assert.Equal(now.AddHours(-2), DeadLetterFilter.Options.ParseTime("2h", "--since", now));
        Assert.Equal(now.AddDays(-1), DeadLetterFilter.Options.ParseTime("1d", "--since", now));
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), DeadLetterFilter.Options.ParseTime("2026-01-02T03:04:05Z", "--since", now));
        Assert.Throws<CliException>(() => DeadLetterFilter.Options.ParseTime("yesterday", "--since", now));
    }

    [Fact]
    public void ReplayProperties_StripFaultHeaders_KeepIdAndAddReplayHeaders()
    {
        var original = new BasicProperties
        {
            MessageId = "m-1",
            ContentType = "application/vnd.masstransit+json",
            Headers = new Dictionary<string, object?>
            {
                [WorkersHeaders.FaultExceptionType] = "System.TimeoutException"u8.ToArray(),
                [WorkersHeaders.FaultQueue] = "orders"u8.ToArray(),
                [WorkersHeaders.FaultAttempts] = 5,
                [WorkersHeaders.RedeliveryCount] = 4,
                [WorkersHeaders.FirstFailure] = "2026-01-01T00:00:00Z"u8.ToArray(),
                [WorkersHeaders.Reason] = "fault"u8.ToArray(),
                [WorkersHeaders.HostMachineName] = "box"u8.ToArray(),
                [WorkersHeaders.ReplayId] = "old-run"u8.ToArray(),
                ["tenant"] = "acme"u8.ToArray(),
            },
        };
        var message = new DeadLetterMessage(1, original, "{}"u8.ToArray(), 0);
        var now = new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

        var replay = ReplayCommand.CreateReplayProperties(message, "run-2", now);

        Assert.Equal("m-1", replay.MessageId);
        Assert.Equal(DeliveryModes.Persistent, replay.DeliveryMode);
        Assert.Equal(new[] { "tenant", WorkersHeaders.ReplayId, WorkersHeaders.ReplayedAt }.Order(StringComparer.Ordinal), replay.Headers!.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("run-2", replay.Headers[WorkersHeaders.ReplayId]);
        Assert.Equal(now.UtcDateTime.ToString("O", CultureInfo.InvariantCulture), replay.Headers[WorkersHeaders.ReplayedAt]);
    }

    [Fact]
    public void DeadLetterMessage_PrefersWorkersHeaders_ThenMassTransits()
    {
        var properties = new BasicProperties
        {
            Headers = new Dictionary<string, object?>
            {
                [WorkersHeaders.FaultInputAddress] = "rabbitmq://h/vh/orders"u8.ToArray(),
                [WorkersHeaders.FaultTimestamp] = "2026-11-01T10:00:00Z"u8.ToArray(),
                [WorkersHeaders.FaultMessageType] = "A.B.OrderSubmitted"u8.ToArray(),
            },
        };

        var message = new DeadLetterMessage(1, properties, "not json"u8.ToArray(), 0);

        Assert.Equal("orders", message.SourceQueue);
        Assert.Equal(1, message.Attempts);
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 10, 0, 0, TimeSpan.Zero), message.LastFailure);
        Assert.Equal(message.LastFailure, message.FirstFailure);
        Assert.Equal(["urn:message:A.B:OrderSubmitted"], message.MessageTypes);
        Assert.Null(message.MessageId);
    }
}
