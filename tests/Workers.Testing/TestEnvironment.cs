using System.Net.Sockets;

namespace Workers.Testing;

/// <summary>
/// Where the integration tests find their services: the <c>WORKERS_*</c> environment variables when set,
/// otherwise throwaway containers when a Docker engine is reachable, otherwise a clear failure that says
/// how to start the local services.
/// </summary>
public static class TestEnvironment
{
    /// <summary>AMQP URI of the broker (a vhost is appended per test class).</summary>
    public const string RabbitMqUriVariable = "WORKERS_RABBITMQ_URI";

    /// <summary>HTTP URI of the broker's management API, with credentials.</summary>
    public const string RabbitMqManagementUriVariable = "WORKERS_RABBITMQ_MANAGEMENT_URI";

    /// <summary>Npgsql connection string of a database on the server (a database is created per test class).</summary>
    public const string PostgresVariable = "WORKERS_POSTGRES";

    /// <summary>What to do when no service is configured.</summary>
    public const string HowToStart =
        "Start the local services and export their settings first:\n" +
        "    scripts/services.sh up && eval \"$(scripts/services.sh env)\"\n" +
        "or run every test the way CI does: scripts/test.sh";

    /// <summary>Whether a Docker engine answers (the socket exists and accepts a connection).</summary>
    public static bool DockerAvailable()
    {
        var host = Environment.GetEnvironmentVariable("DOCKER_HOST");
        var path = host is not null && host.StartsWith("unix://", StringComparison.Ordinal) ? host["unix://".Length..] : "/var/run/docker.sock";
        if (host is not null && !host.StartsWith("unix://", StringComparison.Ordinal))
        {
            return true; // a TCP engine: let Testcontainers try it.
        }

        if (!File.Exists(path))
        {
            return false;
        }

        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    internal static string? Get(string name)
    {
        var value = Environment.GetEnvironmentVariable(name);
        return string.IsNullOrWhiteSpace(value) ? null : value;
    }

    internal static InvalidOperationException Missing(string what, string variable) =>
        new($"No {what} for the integration tests: {variable} is not set and no Docker engine is reachable.\n{HowToStart}");
}
