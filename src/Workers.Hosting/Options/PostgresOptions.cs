namespace Workers.Hosting;

/// <summary>The PostgreSQL database of the outbox and inbox (used when <c>UsePostgres</c> is called).</summary>
public sealed class PostgresOptions
{
    /// <summary>Environment variable that overrides <see cref="ConnectionString"/>: <c>WORKERS_POSTGRES</c>.</summary>
    public const string ConnectionStringVariable = "WORKERS_POSTGRES";

    /// <summary>The database of the local services (<c>scripts/services.sh up</c>).</summary>
    public const string DefaultConnectionString = "Host=127.0.0.1;Port=55432;Username=postgres;Database=workers";

    /// <summary>
    /// Npgsql connection string. For a replicated database list every host and ask for the primary:
    /// <c>Host=db1:5432,db2:5432;Target Session Attributes=primary;…</c>, so that the workers follow a failover.
    /// </summary>
    public string ConnectionString { get; set; } = DefaultConnectionString;
}
