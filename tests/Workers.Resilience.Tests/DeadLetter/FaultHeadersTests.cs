using Workers.Resilience.DeadLetter;
using Xunit;

namespace Workers.Resilience.Tests.DeadLetter;

public class FaultHeadersTests
{
    private static readonly DateTimeOffset First = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private static readonly DateTimeOffset Last = First.AddMinutes(7);

    [Fact]
    public void Write_SetsEveryFaultHeader_MassTransitAndWorkers()
    {
        var headers = new Dictionary<string, object?> { ["MT-Fault-Message"] = "old", ["custom"] = "kept" };

        FaultHeaders.Write(headers, Details(Throw()), new DeadLetterOptions());

        Assert.Equal("kept", headers["custom"]);
        Assert.Equal("fault", headers[WorkersHeaders.Reason]);
        Assert.Equal(typeof(TimeoutException).FullName, headers[WorkersHeaders.FaultExceptionType]);
        Assert.Equal("partner slow", headers[WorkersHeaders.FaultMessage]);
        Assert.Contains(nameof(Throw), (string)headers[WorkersHeaders.FaultStackTrace]!, StringComparison.Ordinal);
        Assert.Equal("2026-01-02T03:11:05.0000000Z", headers[WorkersHeaders.FaultTimestamp]);
        Assert.Equal("Orders.Consumer", headers[WorkersHeaders.FaultConsumerType]);
        Assert.Equal("urn:message:Orders:Placed", headers[WorkersHeaders.FaultMessageType]);
        Assert.Equal("rabbitmq://h/v/orders", headers[WorkersHeaders.FaultInputAddress]);
        Assert.Equal("machine", headers[WorkersHeaders.HostMachineName]);
        Assert.Equal(6, headers[WorkersHeaders.FaultAttempts]);
        Assert.Equal("orders", headers[WorkersHeaders.FaultQueue]);
        Assert.Equal("2026-01-02T03:04:05.0000000Z", headers[WorkersHeaders.FaultFirstFailure]);
        Assert.Equal("2026-01-02T03:11:05.0000000Z", headers[WorkersHeaders.FaultLastFailure]);
        Assert.Equal("machine/42", headers[WorkersHeaders.FaultHost]);
        Assert.Equal("Orders.Consumer", headers[WorkersHeaders.FaultConsumer]);
        Assert.Equal("exhausted", headers[WorkersHeaders.FaultDisposition]);
        Assert.Equal("2.1.0", headers[WorkersHeaders.FaultHostVersion]);
    }

    [Fact]
    public void Write_WithoutStackTrace_AndCutsLongValues()
    {
        var headers = new Dictionary<string, object?>();
        var exception = new InvalidOperationException(new string('x', 1000));

        FaultHeaders.Write(headers, Details(exception), new DeadLetterOptions { IncludeStackTrace = false, MaxHeaderLength = 256 });

        Assert.False(headers.ContainsKey(WorkersHeaders.FaultStackTrace));
        Assert.Equal(256, ((string)headers[WorkersHeaders.FaultMessage]!).Length);
    }

    [Theory]
    [InlineData("x-death", true)]
    [InlineData("x-first-death-queue", true)]
    [InlineData("Workers-Destination", true)]
    [InlineData("MT-Redelivery-Count", false)]
    [InlineData("Workers-First-Failure", false)]
    [InlineData("traceparent", false)]
    public void IsTransient_DropsOnlyTheLaddersOwnHeaders(string key, bool expected)
    {
        Assert.Equal(expected, FaultHeaders.IsTransient(key));
    }

    private static FaultDetails Details(Exception exception) =>
        new(exception, "exhausted", 6, "orders", "Orders.Consumer", "urn:message:Orders:Placed", "rabbitmq://h/v/orders", First, Last, "machine", "machine/42", "2.1.0");

    private static TimeoutException Throw()
    {
        try
        {
            throw new TimeoutException("partner slow");
        }
        catch (TimeoutException ex)
        {
            return ex;
        }
    }
}
