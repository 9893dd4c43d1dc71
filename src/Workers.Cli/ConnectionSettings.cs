using System.CommandLine;
using Npgsql;

namespace Workers.Cli;

/// <summary>
/// The connection options every command understands (<c>--rabbitmq</c>, <c>--management</c>, <c>--postgres</c>),
/// falling back to the host's environment variables and then to the local development services.
/// Defaults are resolved at run time, never shown in help, so no password is ever printed.
/// </summary>
internal sealed class ConnectionSettings
{
    public const string RabbitMqVariable = "WORKERS_RABBITMQ_URI";
    public const string ManagementVariable = "WORKERS_RABBITMQ_MANAGEMENT_URI";
    public const string PostgresVariable = "WORKERS_POSTGRES";
    public const string DefaultRabbitMq = "amqp://guest:guest@127.0.0.1:5673/";
    public const string DefaultManagement = "http://guest:guest@127.0.0.1:15673/";
    public const string DefaultPostgres = "Host=127.0.0.1;Port=55432;Username=postgres;Database=workers";

    public Option<string?> RabbitMq { get; } = new("--rabbitmq")
    {
        Description = $"AMQP URI of the broker, with the vhost as path (default: ${RabbitMqVariable}, else the local broker).",
        Recursive = true,
    };

    public Option<string?> Management { get; } = new("--management")
    {
        Description = $"URI of the RabbitMQ management API, with credentials (default: ${ManagementVariable}, else derived from --rabbitmq).",
        Recursive = true,
    };

    public Option<string?> Postgres { get; } = new("--postgres")
    {
        Description = $"Npgsql connection string (default: ${PostgresVariable}, else the local database).",
        Recursive = true,
    };

    public void AddTo(RootCommand root)
    {
        root.Options.Add(RabbitMq);
        root.Options.Add(Management);
        root.Options.Add(Postgres);
    }

    public Uri GetRabbitMqUri(ParseResult parse, CliConsole console)
    {
        var text = parse.GetValue(RabbitMq) ?? Nonempty(console.Environment(RabbitMqVariable)) ?? DefaultRabbitMq;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != "amqp" && uri.Scheme != "amqps"))
        {
            throw CliException.Usage("--rabbitmq must be an amqp:// or amqps:// URI.");
        }

        console.RegisterSecret(Secrets.PasswordOf(uri));
        return uri;
    }

    public Uri GetManagementUri(ParseResult parse, CliConsole console, Uri amqp)
    {
        var text = parse.GetValue(Management) ?? Nonempty(console.Environment(ManagementVariable));
        Uri? uri;
        if (text is null)
        {
            var builder = new UriBuilder(amqp) { Scheme = amqp.Scheme == "amqps" ? "https" : "http", Port = amqp.Port > 0 ? amqp.Port + 10000 : 15672, Path = "/" };
            uri = builder.Uri;
        }
        else if (!Uri.TryCreate(text, UriKind.Absolute, out uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
        {
            throw CliException.Usage("--management must be an http:// or https:// URI.");
        }

        console.RegisterSecret(Secrets.PasswordOf(uri));
        return uri;
    }

    public string GetPostgres(ParseResult parse, CliConsole console)
    {
        var text = parse.GetValue(Postgres) ?? Nonempty(console.Environment(PostgresVariable)) ?? DefaultPostgres;
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(text);
            console.RegisterSecret(builder.Password);
            return builder.ConnectionString;
        }
        catch (ArgumentException)
        {
            throw CliException.Usage("--postgres is not a valid connection string.");
        }
    }

    /// <summary>The connection string when one was given (<c>--postgres</c> or <c>$WORKERS_POSTGRES</c>), else null: no local default.</summary>
    public string? GetPostgresIfGiven(ParseResult parse, CliConsole console) =>
        parse.GetValue(Postgres) is not null || Nonempty(console.Environment(PostgresVariable)) is not null ? GetPostgres(parse, console) : null;

    private static string? Nonempty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
