namespace Workers.Resilience;

/// <summary>Defaults of <see cref="TimeoutOptions"/>.</summary>
public static class TimeoutConstants
{
    /// <summary>Default <see cref="TimeoutOptions.Timeout"/>: 1 minute.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(1);

    /// <summary>Default <see cref="TimeoutOptions.CancellationGracePeriod"/>: 10 seconds.</summary>
    public static readonly TimeSpan DefaultCancellationGracePeriod = TimeSpan.FromSeconds(10);

    /// <summary>
    /// RabbitMQ's default delivery-acknowledgement timeout (<c>consumer_timeout</c>, 30 minutes): a delivery not
    /// acknowledged within it makes the broker close the channel, which restarts the receive endpoint.
    /// </summary>
    public static readonly TimeSpan DefaultBrokerConsumerTimeout = TimeSpan.FromMinutes(30);

    /// <summary>Smallest accepted <see cref="TimeoutOptions.Timeout"/>: 10 ms.</summary>
    public static readonly TimeSpan MinimumTimeout = TimeSpan.FromMilliseconds(10);
}
