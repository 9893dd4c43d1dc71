using System.Text;
using Workers.Postgres.FailureStore;
using Workers.Resilience;
using Xunit;

namespace Workers.Postgres.Tests.FailureStore;

public sealed class DeadLetterRecordTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 3, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void From_QueueOfTheDeadLetterQueueName_NeverTheForgeableHeader()
    {
        var headers = new Dictionary<string, object?>
        {
            [WorkersHeaders.FaultQueue] = Encoding.UTF8.GetBytes("payments"),
            [WorkersHeaders.FaultInputAddress] = Encoding.UTF8.GetBytes("rabbitmq://h/v/payments"),
        };

        Assert.Equal("orders", DeadLetterRecord.From("orders_error", "m", headers, "{}"u8.ToArray(), Now).Queue);
        Assert.Equal("orders", DeadLetterRecord.From("orders_skipped", "m", headers, "{}"u8.ToArray(), Now).Queue);
    }

    [Fact]
    public void From_FaultHeaders_Read()
    {
        var headers = new Dictionary<string, object?>
        {
            [WorkersHeaders.FaultExceptionType] = Encoding.UTF8.GetBytes("System.TimeoutException"),
            [WorkersHeaders.FaultMessage] = Encoding.UTF8.GetBytes("slow"),
            [WorkersHeaders.FaultAttempts] = 6,
            [WorkersHeaders.FaultFirstFailure] = Encoding.UTF8.GetBytes("2026-12-03T09:00:00.0000000Z"),
            [WorkersHeaders.FaultLastFailure] = Encoding.UTF8.GetBytes("2026-12-03T09:05:00.0000000Z"),
            [WorkersHeaders.FaultConsumerType] = Encoding.UTF8.GetBytes("Acme.Consumer"),
            [WorkersHeaders.HostAssemblyVersion] = Encoding.UTF8.GetBytes("3.2.1"),
        };

        var row = DeadLetterRecord.From("orders_error", "m", headers, "{}"u8.ToArray(), Now);

        Assert.Equal(("System.TimeoutException", "slow", 6, "Acme.Consumer", "3.2.1"), (row.ExceptionType, row.ExceptionMessage, row.Attempts, row.Consumer, row.HostVersion));
        Assert.Equal(new DateTimeOffset(2026, 12, 3, 9, 0, 0, TimeSpan.Zero), row.FirstFailure);
        Assert.Equal(new DateTimeOffset(2026, 12, 3, 9, 5, 0, TimeSpan.Zero), row.LastFailure);
        Assert.Equal("2026-12-03T09:05:00.0000000Z", row.FailureKey);
        Assert.Equal(FailureFingerprint.Compute("System.TimeoutException", null, "Acme.Consumer"), row.Fingerprint);
    }

    [Fact]
    public void From_NoMessageId_EnvelopeIdElseBodyHash()
    {
        var fromEnvelope = DeadLetterRecord.From("q_error", null, null, """{"messageId":"env-1"}"""u8.ToArray(), Now);
        var fromBody = DeadLetterRecord.From("q_error", null, null, "not json"u8.ToArray(), Now);

        Assert.Equal("env-1", fromEnvelope.MessageId);
        Assert.StartsWith("sha256:", fromBody.MessageId, StringComparison.Ordinal);
        Assert.Equal(fromBody.MessageId, DeadLetterRecord.From("q_error", null, null, "not json"u8.ToArray(), Now).MessageId);
    }
}
