using Npgsql;

namespace Workers.Cli;

/// <summary>Masks passwords in URIs and connection strings before they are shown.</summary>
internal static class Secrets
{
    public const string Mask = "***";

    /// <summary>The URI with its password replaced by <c>***</c> (user name kept).</summary>
    public static string MaskUri(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (string.IsNullOrEmpty(uri.UserInfo))
        {
            return uri.ToString();
        }

        var user = uri.UserInfo.Split(':')[0];
        var builder = new UriBuilder(uri) { UserName = Uri.UnescapeDataString(user), Password = uri.UserInfo.Contains(':', StringComparison.Ordinal) ? Mask : string.Empty };
        return builder.Uri.ToString().Replace(Uri.EscapeDataString(Mask), Mask, StringComparison.Ordinal);
    }

    /// <summary>The password of a URI (unescaped), or null.</summary>
    public static string? PasswordOf(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var index = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
        return index < 0 ? null : Uri.UnescapeDataString(uri.UserInfo[(index + 1)..]);
    }

    /// <summary>The Npgsql connection string with its password replaced by <c>***</c>.</summary>
    public static string MaskConnectionString(string connectionString)
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            if (!string.IsNullOrEmpty(builder.Password))
            {
                builder.Password = Mask;
            }

            return builder.ConnectionString;
        }
        catch (ArgumentException)
        {
            return "(unparsable connection string)";
        }
    }
}
