using Npgsql;

namespace Workers.Postgres.Storage;

/// <summary>What the configured hosts say about themselves.</summary>
internal enum TopologyState
{
    /// <summary>Not checked yet, or only one host configured.</summary>
    Unknown,

    /// <summary>Exactly one host is primary.</summary>
    OnePrimary,

    /// <summary>No reachable host is primary (failover in progress).</summary>
    NoPrimary,

    /// <summary>More than one host is primary: writes refused.</summary>
    SplitBrain,
}

/// <summary>Pure decision over the answers of <c>SELECT pg_is_in_recovery()</c> from each host (null = unreachable).</summary>
internal static class TopologyDecision
{
    public static TopologyState Evaluate(IReadOnlyList<bool?> inRecovery)
    {
        ArgumentNullException.ThrowIfNull(inRecovery);
        var primaries = inRecovery.Count(r => r == false);
        return primaries switch
        {
            0 => TopologyState.NoPrimary,
            1 => TopologyState.OnePrimary,
            _ => TopologyState.SplitBrain,
        };
    }

    /// <summary>The individual hosts of a (possibly multi-host) connection string, each as a single-host, any-role connection string.</summary>
    public static IReadOnlyList<string> SplitHosts(string connectionString, TimeSpan timeout)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var hosts = (builder.Host ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var result = new List<string>(hosts.Length);
        foreach (var host in hosts)
        {
            var single = new NpgsqlConnectionStringBuilder(connectionString)
            {
                TargetSessionAttributes = "any",
                Pooling = false,
                Timeout = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)),
                CommandTimeout = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)),
            };
            var colon = host.LastIndexOf(':');
            if (colon > 0 && !host.EndsWith(']') && int.TryParse(host[(colon + 1)..], out var port))
            {
                single.Host = host[..colon];
                single.Port = port;
            }
            else
            {
                single.Host = host;
            }

            result.Add(single.ConnectionString);
        }

        return result;
    }
}

/// <summary>
/// Asks every configured host whether it is primary (split-brain guard). Writers consult <see cref="WritesAllowed"/>;
/// with a single configured host the check is skipped and writes are always allowed.
/// </summary>
internal sealed class PostgresTopology
{
    private readonly object gate = new();
    private readonly SemaphoreSlim checking = new(1, 1);
    private string? connectionString;
    private IReadOnlyList<string> hosts = [];

    public TopologyState State { get; private set; } = TopologyState.Unknown;

    public bool WritesAllowed => State != TopologyState.SplitBrain;

    public bool MultiHost => hosts.Count > 1;

    public void Configure(string connectionString, TimeSpan timeout)
    {
        lock (gate)
        {
            if (this.connectionString == connectionString)
            {
                return;
            }

            this.connectionString = connectionString;
            hosts = TopologyDecision.SplitHosts(connectionString, timeout);
        }
    }

    public void ThrowIfWritesRefused()
    {
        if (!WritesAllowed)
        {
            throw new SplitBrainException();
        }
    }

    /// <summary>Checks every host once; returns the new state.</summary>
    public async Task<TopologyState> CheckAsync(CancellationToken cancellationToken)
    {
        if (hosts.Count <= 1)
        {
            return State;
        }

        await checking.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var answers = await Task.WhenAll(hosts.Select(h => AskAsync(h, cancellationToken))).ConfigureAwait(false);
            State = TopologyDecision.Evaluate(answers);
            return State;
        }
        finally
        {
            checking.Release();
        }
    }

    private static async Task<bool?> AskAsync(string host, CancellationToken cancellationToken)
    {
        try
        {
            var connection = new NpgsqlConnection(host);
            await using var connectionDisposal = connection.ConfigureAwait(false);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            var command = new NpgsqlCommand("SELECT pg_is_in_recovery()", connection);
            await using var commandDisposal = command.ConfigureAwait(false);
            return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException or IOException)
        {
            return null;
        }
    }
}
