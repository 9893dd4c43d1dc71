using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Workers.Hosting;

/// <summary>
/// Binds MassTransit's ambient log context to this host's logger factory before the bus is created.
/// MassTransit keeps that context in an <c>AsyncLocal</c> and sets it only when it is empty, so a process that
/// runs a second host (a restart in place, a test) would otherwise log through the first host's disposed
/// factory and fail to create its bus (<c>ObjectDisposedException: LoggerFactory</c>).
/// Registered as the first hosted service: the host constructs it, in its own flow, before MassTransit's.
/// MassTransit logs through <see cref="MassTransitLoggerFactory"/> over that factory: its per-attempt consume fault
/// at <see cref="TelemetryOptions.MassTransitFaultLogLevel"/>.
/// </summary>
internal sealed class BusLogContextBinder : IHostedService
{
    public BusLogContextBinder(ILoggerFactory loggerFactory, IOptions<WorkersOptions> options)
    {
        LogContext.ConfigureCurrentLogContext(new MassTransitLoggerFactory(loggerFactory, () => options.Value.Telemetry.MassTransitFaultLogLevel));
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
