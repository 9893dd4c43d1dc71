using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Workers.Resilience.Telemetry;

namespace Workers.Resilience;

/// <summary>Entry point of the messaging telemetry stage (OpenTelemetry messaging semantic conventions, consumer side).</summary>
public static class TelemetryConfigurationExtensions
{
    /// <summary>
    /// Adds <c>messaging.client.consumed.messages</c> and <c>messaging.process.duration</c> (on the <c>Workers</c> meter,
    /// see <c>docs/telemetry.md</c>) to a receive endpoint. Call it right after <c>UseWorkersRedelivery</c> and before the
    /// circuit breaker, bulkhead, timeout and inbox stages, so that it times the processing and sees its failures (the
    /// redelivery stage ends them); <c>AddWorkers</c> does.
    /// </summary>
    /// <param name="configurator">The receive endpoint.</param>
    /// <param name="services">The container (the bus registration context); its <see cref="TimeProvider"/> times the attempts, <see cref="TimeProvider.System"/> when none.</param>
    /// <param name="destinationName">The <c>messaging.destination.name</c>; the endpoint's queue name (which its bound exchange shares) when null.</param>
    public static void UseWorkersMessagingTelemetry(this IReceiveEndpointConfigurator configurator, IServiceProvider services, string? destinationName = null)
    {
        ArgumentNullException.ThrowIfNull(configurator);
        ArgumentNullException.ThrowIfNull(services);
        var time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        var destination = destinationName ?? QueueName(configurator.InputAddress);
        configurator.AddPipeSpecification(new MessagingTelemetrySpecification(new MessagingTelemetrySettings(destination, time)));
    }

    private static string QueueName(Uri inputAddress)
    {
        var path = inputAddress.AbsolutePath.TrimEnd('/');
        return Uri.UnescapeDataString(path[(path.LastIndexOf('/') + 1)..]);
    }
}
