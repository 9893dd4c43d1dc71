namespace Workers.Hosting;

/// <summary>How the workers connect to RabbitMQ.</summary>
public sealed class RabbitMqOptions
{
    /// <summary>Environment variable that overrides <see cref="Uri"/>: <c>WORKERS_RABBITMQ_URI</c>.</summary>
    public const string UriVariable = "WORKERS_RABBITMQ_URI";

    /// <summary>Environment variable read when <see cref="ManagementUri"/> is not set: <c>WORKERS_RABBITMQ_MANAGEMENT_URI</c>.</summary>
    public const string ManagementUriVariable = "WORKERS_RABBITMQ_MANAGEMENT_URI";

    /// <summary>The broker URI of the local services (<c>scripts/services.sh up</c>).</summary>
    public const string DefaultUri = "amqp://guest:guest@127.0.0.1:5673/";

    /// <summary>
    /// Default for <see cref="PrefetchCount"/>: 100. Measured on one node (tests/Workers.Benchmarks): drain
    /// throughput 1.47× that of prefetch 32 and −27 % CPU per message; 200 added nothing.
    /// </summary>
    public const int DefaultPrefetchCount = 100;

    /// <summary>
    /// The broker's AMQP URI, <c>amqp://user:password@host:port/vhost</c> (or <c>amqps://</c>).
    /// <c>WORKERS_RABBITMQ_URI</c> overrides it; the default is the local services' broker.
    /// </summary>
    public string Uri { get; set; } = DefaultUri;

    /// <summary>
    /// Other nodes of the cluster as <c>host:port</c>; when set, the workers connect to any node and move to
    /// another one when their node fails. The host of <see cref="Uri"/> is always tried too.
    /// </summary>
    public IList<string> ClusterNodes { get; } = [];

    /// <summary>Wait for the broker's confirmation of every publish and send (on by default; turn off only for throwaway traffic).</summary>
    public bool PublisherConfirmation { get; set; } = true;

    /// <summary>Default prefetch count of every receive endpoint (1 to 65535).</summary>
    public int PrefetchCount { get; set; } = DefaultPrefetchCount;

    /// <summary>
    /// The management API, <c>http(s)://[user:password@]host:port/</c> (credentials default to those of <see cref="Uri"/>;
    /// <c>WORKERS_RABBITMQ_MANAGEMENT_URI</c> when unset). At start Workers reads the vhost's policies there and refuses
    /// to run when one lowers the delivery limit of a quorum queue it uses (the user needs the <c>policymaker</c> or
    /// <c>monitoring</c> tag to read them). Unset or unreachable: a warning, and no check.
    /// </summary>
    public string? ManagementUri { get; set; }

    /// <summary>The connection's name as the broker shows it (defaults to the application's name).</summary>
    public string? ConnectionName { get; set; }
}
