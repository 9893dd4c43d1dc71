using System.ComponentModel.DataAnnotations;

namespace Workers.Resilience;

/// <summary>
/// A time limit per attempt of one consumer. At <see cref="Timeout"/> the consumer's <c>CancellationToken</c>
/// is cancelled and the attempt fails with <see cref="ConsumerTimeoutException"/> (transient: redelivered, then
/// dead-lettered when the attempts run out). A consumer that has not returned <see cref="CancellationGracePeriod"/>
/// after the cancellation is reported as ignoring cancellation (log, metric, <see cref="ConsumerTimeoutRegistry"/>)
/// and the message is handed to redelivery anyway; the runaway keeps its bulkhead permit until it really returns.
/// </summary>
/// <remarks>
/// RabbitMQ closes the channel of a delivery that is not acknowledged within its <c>consumer_timeout</c> (30 minutes
/// by default), which would restart the endpoint and redeliver every unacknowledged message. <see cref="Validate"/>
/// therefore requires <c>Timeout + CancellationGracePeriod</c> to stay below <see cref="BrokerConsumerTimeout"/>;
/// set that to the broker's value if it was changed.
/// </remarks>
public sealed class TimeoutOptions
{
    /// <summary>How long one attempt of the consumer may run before its cancellation token is cancelled.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan Timeout { get; set; } = TimeoutConstants.DefaultTimeout;

    /// <summary>How long to wait, after cancelling, for the consumer to return before reporting that it ignores cancellation.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan CancellationGracePeriod { get; set; } = TimeoutConstants.DefaultCancellationGracePeriod;

    /// <summary>The broker's delivery-acknowledgement timeout (<c>consumer_timeout</c>), used only to validate <see cref="Timeout"/>.</summary>
    public TimeSpan BrokerConsumerTimeout { get; set; } = TimeoutConstants.DefaultBrokerConsumerTimeout;

    /// <summary>Checks every setting; returns all errors, each prefixed with <paramref name="path"/>.</summary>
    /// <param name="path">The configuration path of these options.</param>
    public IReadOnlyList<string> Validate(string path = "Timeout")
    {
        var errors = new List<string>();
        if (Timeout < TimeoutConstants.MinimumTimeout)
        {
            errors.Add($"{path}:{nameof(Timeout)} must be at least {TimeoutConstants.MinimumTimeout} (was {Timeout}).");
        }

        if (CancellationGracePeriod < TimeSpan.Zero)
        {
            errors.Add($"{path}:{nameof(CancellationGracePeriod)} must not be negative (was {CancellationGracePeriod}).");
        }

        if (BrokerConsumerTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{path}:{nameof(BrokerConsumerTimeout)} must be positive (was {BrokerConsumerTimeout}).");
        }
        else if (Timeout + CancellationGracePeriod >= BrokerConsumerTimeout)
        {
            errors.Add($"{path}:{nameof(Timeout)} + {nameof(CancellationGracePeriod)} ({Timeout + CancellationGracePeriod}) must be below the broker's consumer_timeout ({BrokerConsumerTimeout}), or RabbitMQ closes the channel under the consumer.");
        }

        return errors;
    }
}
