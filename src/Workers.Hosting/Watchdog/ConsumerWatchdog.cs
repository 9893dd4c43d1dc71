using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Workers.Resilience;
using Workers.Resilience.Broker;
using Workers.Resilience.Redelivery;
using Workers.Resilience.Telemetry;

namespace Workers.Hosting;

/// <summary>
/// Inspects each endpoint's queue on the broker every <see cref="ConsumerWatchdogOptions.Interval"/> and restarts an
/// endpoint that <see cref="StallRule"/> finds stuck at two inspections in a row (stop, start, wait until ready).
/// Restarting is safe: unacknowledged deliveries of a dead channel are back in the queue already.
/// </summary>
internal sealed class ConsumerWatchdog : BackgroundService
{
    private static readonly Counter<long> Restarts = WorkersDiagnostics.Meter.CreateCounter<long>("workers.endpoint.restarts", "{restart}", "Receive endpoints restarted by the consumer watchdog because they consumed nothing while ready.");
    private readonly EndpointActivityRegistry activities;
    private readonly Func<string, CancellationToken, Task<(uint Messages, uint Consumers)?>> inspectQueue;
    private readonly CircuitBreakerRegistry breakers;
    private readonly ConsumerWatchdogOptions options;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly Dictionary<string, int> strikes = new(StringComparer.Ordinal);

    // Per queue: since when the broker has answered every inspection while the endpoint was not ready.
    private readonly Dictionary<string, DateTimeOffset> answeringWhileDown = new(StringComparer.Ordinal);

    public ConsumerWatchdog(EndpointActivityRegistry activities, BrokerClient broker, CircuitBreakerRegistry breakers, IOptions<WorkersOptions> options, TimeProvider time, ILogger<ConsumerWatchdog> logger)
        : this(activities, broker.InspectQueueAsync, breakers, options.Value.ConsumerWatchdog, time, logger)
    {
    }

    /// <summary>Creates the watchdog with its own way to count a queue's messages and consumers on the broker.</summary>
    internal ConsumerWatchdog(EndpointActivityRegistry activities, Func<string, CancellationToken, Task<(uint Messages, uint Consumers)?>> inspectQueue, CircuitBreakerRegistry breakers, ConsumerWatchdogOptions options, TimeProvider time, ILogger logger)
    {
        this.activities = activities;
        this.inspectQueue = inspectQueue;
        this.breakers = breakers;
        this.options = options;
        this.time = time;
        this.logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Enabled)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                foreach (var activity in activities.All)
                {
                    await InspectAsync(activity, stoppingToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One inspection of one endpoint; returns whether it was restarted.</summary>
    internal async Task<bool> InspectAsync(EndpointActivity activity, CancellationToken cancellationToken)
    {
        var snapshot = activity.Snapshot();
        if (snapshot.Ready)
        {
            answeringWhileDown.Remove(activity.Queue);
        }
        else if (snapshot.NotReadySince is null)
        {
            // Never ready yet: MassTransit is still starting it.
            answeringWhileDown.Remove(activity.Queue);
            strikes.Remove(activity.Queue);
            return false;
        }

        (uint Messages, uint Consumers)? counts;
        try
        {
            counts = await inspectQueue(activity.Queue, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The broker is unreachable: MassTransit's endpoints will say so themselves.
            WatchdogLog.InspectFailed(logger, ex, activity.Queue);
            answeringWhileDown.Remove(activity.Queue);
            strikes.Remove(activity.Queue);
            return false;
        }

        DateTimeOffset? answering = null;
        if (!snapshot.Ready && counts is not null)
        {
            answering = answeringWhileDown.TryGetValue(activity.Queue, out var since) ? since : answeringWhileDown[activity.Queue] = time.GetUtcNow();
        }

        // Read the activity again: a delivery or a stop may have happened while the broker answered.
        snapshot = activity.Snapshot();
        var reason = counts is { } c ? StallRule.Evaluate(snapshot, c.Messages, c.Consumers, IsPaused(snapshot.InputAddress), time.GetUtcNow(), options.StallTimeout, answering) : null;
        if (reason is null)
        {
            strikes.Remove(activity.Queue);
            return false;
        }

        var count = strikes[activity.Queue] = strikes.GetValueOrDefault(activity.Queue) + 1;
        if (count < 2 || activity.Control is not { } endpoint)
        {
            return false;
        }

        strikes.Remove(activity.Queue);
        WatchdogLog.Restarting(logger, activity.Queue, reason);
        Restarts.Add(1, new KeyValuePair<string, object?>("queue", activity.Queue));
        using (var trace = WorkersDiagnostics.ActivitySource.StartActivity("workers.endpoint.restart"))
        {
            trace?.SetTag("workers.queue", activity.Queue);
            WorkersDiagnostics.AddEvent("endpoint.restarted", new KeyValuePair<string, object?>("workers.queue", activity.Queue), new KeyValuePair<string, object?>("workers.reason", reason));
            // A stop that fails (the connection it needs is the one that is broken) must not leave the endpoint
            // stopped: the start is tried either way.
            try
            {
                await endpoint.StopAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                WatchdogLog.RestartFailed(logger, ex, activity.Queue);
            }

            try
            {
                await endpoint.StartAsync(cancellationToken).ConfigureAwait(false);
                WatchdogLog.Restarted(logger, activity.Queue);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                WatchdogLog.RestartFailed(logger, ex, activity.Queue);
            }
        }

        return true;
    }

    // An endpoint its breaker holds paused (open or half-open) is not stuck.
    private bool IsPaused(Uri? inputAddress) =>
        inputAddress is not null && breakers.GetSnapshots().Any(b => b.State != CircuitState.Closed && b.Endpoints.Contains(inputAddress));
}
