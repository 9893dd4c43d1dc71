using System.Diagnostics;

namespace Workers.Testing;

/// <summary>
/// Where a test's own RabbitMQ node runs from: this machine's Debian package (RabbitMQ 3.10, <see cref="Host"/>) or the
/// Debian 13 root that <c>scripts/services.sh rabbitmq4-up</c> builds (RabbitMQ 4.0, <see cref="Debian13"/>), whose
/// binaries need Debian 13's libc. Every command in the root runs in a mount namespace of its own holding the root's
/// <c>/proc</c> (nothing stays mounted on the machine), with a clean environment; the network, the pid namespace and
/// <c>epmd</c> are the machine's, so a node in the root listens on loopback and its pid can be killed from here.
/// </summary>
public abstract class RabbitMqRuntime
{
    /// <summary>Environment variable choosing the broker version of the private nodes: <c>3.10</c> (default) or <c>4.0</c>.</summary>
    public const string VersionVariable = "WORKERS_PRIVATE_BROKER";

    /// <summary>Environment variable naming the Debian 13 root (as <c>scripts/services.sh</c> reads it).</summary>
    public const string Debian13RootVariable = "WORKERS_DEBIAN13_ROOT";

    /// <summary>The Debian 13 root when <see cref="Debian13RootVariable"/> is not set.</summary>
    public const string DefaultDebian13Root = "/var/lib/workers/debian13";

    private const string NodesFolder = "/var/tmp/workers-tests";

    private protected RabbitMqRuntime()
    {
    }

    /// <summary>RabbitMQ from this machine's Debian package.</summary>
    public static RabbitMqRuntime Host { get; } = new HostRuntime();

    /// <summary>The runtime <see cref="VersionVariable"/> asks for (<see cref="Host"/> when it is not set).</summary>
    public static RabbitMqRuntime FromEnvironment() =>
        TestEnvironment.Get(VersionVariable) switch
        {
            null or "3.10" => Host,
            "4.0" => Debian13(),
            var other => throw new InvalidOperationException($"{VersionVariable} must be 3.10 or 4.0 (was '{other}')."),
        };

    /// <summary>RabbitMQ 4.0 from the Debian 13 root (<see cref="Debian13RootVariable"/>, default <see cref="DefaultDebian13Root"/>).</summary>
    public static RabbitMqRuntime Debian13(string? root = null) =>
        new Debian13Runtime(root ?? TestEnvironment.Get(Debian13RootVariable) ?? DefaultDebian13Root);

    /// <summary>The broker version it runs, for names and reports: <c>3.10</c> or <c>4.0</c>.</summary>
    public abstract string Version { get; }

    /// <summary>Whether <c>rabbitmq-server -detached</c> exists (it is gone in 4.x).</summary>
    internal abstract bool HasDetached { get; }

    /// <summary>A new folder path (on this machine) for a node's data, reachable by the runtime's servers.</summary>
    internal string NewNodeDirectory(string name) =>
        Path.Combine(HostPath(NodesFolder), $"{name}-{Guid.NewGuid():N}"[..(name.Length + 13)]);

    /// <summary>Throws with what to do when the runtime is not installed.</summary>
    internal abstract void EnsureInstalled();

    /// <summary>The path a server of this runtime sees for <paramref name="hostPath"/> (a path under <see cref="HostPath"/>).</summary>
    internal abstract string ServerPath(string hostPath);

    /// <summary>The path on this machine of <paramref name="serverPath"/> as the runtime's servers see it.</summary>
    internal abstract string HostPath(string serverPath);

    /// <summary>A process running <paramref name="file"/> in the runtime with <paramref name="environment"/> (paths as the server sees them).</summary>
    internal abstract ProcessStartInfo Command(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment);

    private sealed class HostRuntime : RabbitMqRuntime
    {
        public override string Version => "3.10";

        internal override bool HasDetached => true;

        internal override void EnsureInstalled()
        {
            if (!File.Exists("/usr/sbin/rabbitmq-server") && !File.Exists("/usr/lib/rabbitmq/bin/rabbitmq-server"))
            {
                throw new InvalidOperationException("rabbitmq-server is not installed (apt-get install -y rabbitmq-server); the private-node tests need it.");
            }
        }

        internal override string ServerPath(string hostPath) => hostPath;

        internal override string HostPath(string serverPath) => serverPath;

        internal override ProcessStartInfo Command(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment)
        {
            var info = new ProcessStartInfo(file);
            foreach (var argument in arguments)
            {
                info.ArgumentList.Add(argument);
            }

            foreach (var (key, value) in environment)
            {
                info.Environment[key] = value;
            }

            return info;
        }
    }

    private sealed class Debian13Runtime(string root) : RabbitMqRuntime
    {
        // Mount the root's proc in the new namespace, then run the command in the root with a clean environment
        // followed by the node's variables (env VAR=value ... file args).
        private const string Enter =
            "mount -t proc proc \"$1/proc\" && r=$1 && shift && exec chroot \"$r\" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/var/lib/rabbitmq LANG=C.UTF-8 \"$@\"";

        public override string Version => "4.0";

        internal override bool HasDetached => false;

        internal override void EnsureInstalled()
        {
            if (!File.Exists(Path.Combine(root, ".workers-complete")) || !File.Exists(Path.Combine(root, "usr/sbin/rabbitmq-server")))
            {
                throw new InvalidOperationException(
                    $"No Debian 13 root with RabbitMQ 4.0 at {root} ({Debian13RootVariable}): build it with scripts/services.sh rabbitmq4-up (as root).");
            }

            if (Environment.UserName != "root")
            {
                throw new InvalidOperationException("A RabbitMQ 4.0 node from the Debian 13 root needs root (mount namespace, chroot).");
            }
        }

        internal override string ServerPath(string hostPath)
        {
            var full = Path.GetFullPath(hostPath);
            return full.StartsWith(root + "/", StringComparison.Ordinal)
                ? full[root.Length..]
                : throw new ArgumentException($"{hostPath} is outside the Debian 13 root {root}.", nameof(hostPath));
        }

        internal override string HostPath(string serverPath) => root + serverPath;

        internal override ProcessStartInfo Command(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment)
        {
            var info = new ProcessStartInfo("unshare");
            foreach (var argument in (string[])["--mount", "--propagation", "private", "/bin/sh", "-c", Enter, "sh", root])
            {
                info.ArgumentList.Add(argument);
            }

            foreach (var (key, value) in environment)
            {
                info.ArgumentList.Add($"{key}={value}");
            }

            info.ArgumentList.Add(file);
            foreach (var argument in arguments)
            {
                info.ArgumentList.Add(argument);
            }

            return info;
        }
    }
}
