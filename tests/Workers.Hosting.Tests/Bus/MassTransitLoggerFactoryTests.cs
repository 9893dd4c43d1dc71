using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Xunit;

namespace Workers.Hosting.Tests.Bus;

public sealed class MassTransitLoggerFactoryTests
{
    // The templates MassTransit 8.5 writes its consume fault, its receive fault and its retries with.
    private static readonly Action<ILogger, Uri, Guid?, string, string, string, Exception?> ConsumeFault = LoggerMessage.Define<Uri, Guid?, string, string, string>(
        LogLevel.Error, default, "R-FAULT {InputAddress} {MessageId} {MessageType} {ConsumerType}({Duration})");

    private static readonly Action<ILogger, Uri, string, string, Exception?> ReceiveFault = LoggerMessage.Define<Uri, string, string>(
        LogLevel.Error, default, "R-FAULT {InputAddress} {MessageId} {Duration}");

    private static readonly Uri Input = new("rabbitmq://localhost/submit-order");

    [Fact]
    public void ConsumeFault_IsWrittenAtTheConfiguredLevel_WithItsExceptionAndText()
    {
        using var setup = new Setup(LogLevel.Debug);
        var failure = new InvalidOperationException("payment down");

        ConsumeFault(setup.Factory.CreateLogger("MassTransit.ReceiveTransport"), Input, Guid.Empty, "Orders:SubmitOrder", "OrderConsumer", "00:00:00.01", failure);

        var entry = Assert.Single(setup.Collector.GetSnapshot());
        Assert.Equal(LogLevel.Debug, entry.Level);
        Assert.Same(failure, entry.Exception);
        Assert.StartsWith("R-FAULT rabbitmq://localhost/submit-order", entry.Message, StringComparison.Ordinal);
        Assert.Equal("MassTransit.ReceiveTransport", entry.Category);
    }

    [Fact]
    public void ConsumeFault_BelowTheAppsMinimumLevel_IsNotWritten_AndNoneDropsIt()
    {
        using var filtered = new Setup(LogLevel.Debug, minimum: LogLevel.Information);
        ConsumeFault(filtered.Factory.CreateLogger("MassTransit.ReceiveTransport"), Input, null, "T", "C", "0", new InvalidOperationException());
        Assert.Empty(filtered.Collector.GetSnapshot());

        using var none = new Setup(LogLevel.None);
        ConsumeFault(none.Factory.CreateLogger("MassTransit.ReceiveTransport"), Input, null, "T", "C", "0", new InvalidOperationException());
        Assert.Empty(none.Collector.GetSnapshot());
    }

    [Fact]
    public void EveryOtherEntry_KeepsItsLevel_AndTheAppsOwnLoggersAreNotTouched()
    {
        using var setup = new Setup(LogLevel.Debug);
        var transport = setup.Factory.CreateLogger("MassTransit.ReceiveTransport");
        ReceiveFault(transport, Input, "id", "0", new FormatException());
        transport.LogError(new InvalidOperationException(), "Connection Failed: {Host}", "rabbitmq://localhost/");
        transport.LogWarning("R-FAULT lookalike at warning");

        // A consumer of the app logging the same template is the app's business, not MassTransit's.
        ConsumeFault(setup.Factory.CreateLogger("Orders.OrderConsumer"), Input, null, "T", "C", "0", new InvalidOperationException());

        Assert.Equal([LogLevel.Error, LogLevel.Error, LogLevel.Warning, LogLevel.Error], setup.Collector.GetSnapshot().Select(e => e.Level));
    }

    [Fact]
    public void IsConsumeFault_RecognisesTheTemplate_NotOtherStates()
    {
        Assert.False(MassTransitLoggerFactory.IsConsumeFault("R-FAULT {InputAddress} {MessageId} {MessageType} {ConsumerType}"));
        Assert.False(MassTransitLoggerFactory.IsConsumeFault<IReadOnlyList<KeyValuePair<string, object?>>>([new("{OriginalFormat}", "RECEIVE {InputAddress}")]));
        Assert.True(MassTransitLoggerFactory.IsConsumeFault<IReadOnlyList<KeyValuePair<string, object?>>>([new("MessageId", 1), new("{OriginalFormat}", MassTransitLoggerFactory.ConsumeFaultTemplate + "({Duration})")]));
    }

    private sealed class Setup : IDisposable
    {
        private readonly ILoggerFactory app;

        public Setup(LogLevel faultLevel, LogLevel minimum = LogLevel.Trace)
        {
            Collector = new FakeLogCollector();
            app = LoggerFactory.Create(b => b.SetMinimumLevel(minimum).AddProvider(new FakeLoggerProvider(Collector)));
            Factory = new MassTransitLoggerFactory(app, () => faultLevel);
        }

        public FakeLogCollector Collector { get; }

        public ILoggerFactory Factory { get; }

        public void Dispose() => app.Dispose();
    }
}
