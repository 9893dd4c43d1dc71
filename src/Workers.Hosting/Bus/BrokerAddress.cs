using System.Diagnostics.CodeAnalysis;

namespace Workers.Hosting;

/// <summary>A parsed broker URI: host, port, vhost and credentials. Its <see cref="ToString"/> masks the password.</summary>
internal sealed record BrokerAddress(string Host, int Port, string VirtualHost, string Username, string Password, bool UseTls)
{
    public static bool TryParse(string? value, [NotNullWhen(true)] out BrokerAddress? address, [NotNullWhen(false)] out string? error)
    {
        address = null;
        if (string.IsNullOrWhiteSpace(value) || !System.Uri.TryCreate(value, UriKind.Absolute, out var uri))
        {
            error = $"must be an absolute amqp:// or amqps:// URI (was '{Mask(value)}')";
            return false;
        }

        if (uri.Scheme is not ("amqp" or "amqps" or "rabbitmq" or "rabbitmqs"))
        {
            error = $"must use the amqp:// or amqps:// scheme (was '{uri.Scheme}://')";
            return false;
        }

        var tls = uri.Scheme is "amqps" or "rabbitmqs";
        var port = uri.IsDefaultPort || uri.Port <= 0 ? (tls ? 5671 : 5672) : uri.Port;
        var path = System.Uri.UnescapeDataString(uri.AbsolutePath.Trim('/'));
        var vhost = path.Length == 0 ? "/" : path;
        var user = "guest";
        var password = "guest";
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            user = System.Uri.UnescapeDataString(parts[0]);
            password = parts.Length > 1 ? System.Uri.UnescapeDataString(parts[1]) : string.Empty;
        }

        address = new BrokerAddress(uri.Host, port, vhost, user, password, tls);
        error = null;
        return true;
    }

    /// <summary>Parses a URI that validation already accepted.</summary>
    public static BrokerAddress Parse(string value) =>
        TryParse(value, out var address, out var error) ? address : throw new InvalidOperationException($"Workers:RabbitMq:Uri {error}.");

    /// <summary>The AMQP URI (with credentials) that RabbitMQ.Client accepts.</summary>
    public Uri ToAmqpUri() => new UriBuilder(UseTls ? "amqps" : "amqp", Host, Port, "/" + System.Uri.EscapeDataString(VirtualHost))
    {
        UserName = System.Uri.EscapeDataString(Username),
        Password = System.Uri.EscapeDataString(Password),
    }.Uri;

    public static bool TryParseNode(string? value, [NotNullWhen(true)] out string? host, out int port)
    {
        host = null;
        port = 0;
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), out port) || port is < 1 or > 65535)
        {
            return false;
        }

        host = value[..colon];
        return true;
    }

    /// <summary>The URI with its password replaced by <c>***</c>, safe for logs and errors.</summary>
    public static string Mask(string? value)
    {
        if (string.IsNullOrEmpty(value) || !System.Uri.TryCreate(value, UriKind.Absolute, out var uri) || !uri.UserInfo.Contains(':', StringComparison.Ordinal))
        {
            return value ?? string.Empty;
        }

        var user = uri.UserInfo.Split(':', 2)[0];
        return new UriBuilder(uri) { UserName = user, Password = "***" }.Uri.ToString();
    }

    public override string ToString() => $"{(UseTls ? "amqps" : "amqp")}://{Username}:***@{Host}:{Port}/{(VirtualHost == "/" ? string.Empty : VirtualHost)}";
}
