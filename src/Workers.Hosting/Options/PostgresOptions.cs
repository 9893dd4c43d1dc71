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

    /// <summary>
    /// Lease the application's DbContext from EF Core's context pool (<c>AddDbContextPool</c>) instead of building one per
    /// message scope: the inbox's per-message cost drops by the context's construction (its internal services). Used only
    /// when the context's one public constructor takes just its <c>DbContextOptions</c>; EF Core resets a pooled
    /// context's own state between leases, not fields the application adds, so turn this off for a context that keeps
    /// state of its own. Read when <c>UsePostgres</c> is called. Default <see langword="true"/>.
    /// </summary>
    public bool PoolDbContexts { get; set; } = true;
}
