using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Workers.Postgres.Outbox;

namespace Workers.Postgres.Storage;

/// <summary>Per-DbContext-type shared state: table names, topology guard, backlog, wake-up signal.</summary>
internal sealed class WorkersDatabase<TDbContext>(IServiceScopeFactory scopeFactory, TimeProvider timeProvider)
    where TDbContext : DbContext
{
    private readonly object gate = new();
    private volatile Initialised? initialised;

    public PostgresTopology Topology { get; } = new();

    public OutboxBacklog Backlog { get; } = new(timeProvider);

    public OutboxSignal Signal { get; } = new();

    public DatabaseAvailability Availability { get; } = new();

    public WorkersTables Tables => EnsureInitialised().Tables;

    public string ConnectionString => EnsureInitialised().ConnectionString;

    /// <summary>Read on every message: lock-free once set (the lock only serialises the first reads).</summary>
    private Initialised EnsureInitialised()
    {
        if (initialised is { } ready)
        {
            return ready;
        }

        lock (gate)
        {
            if (initialised is null)
            {
                using var scope = scopeFactory.CreateScope();
                var context = scope.ServiceProvider.GetRequiredService<TDbContext>();
                var tables = WorkersTables.From(context);
                var connectionString = context.Database.GetConnectionString()
                    ?? throw new InvalidOperationException($"{typeof(TDbContext).Name} has no connection string (configure it with UseWorkersPostgres(connectionString)).");
                Topology.Configure(connectionString, TimeSpan.FromSeconds(2));
                initialised = new Initialised(tables, connectionString);
            }

            return initialised;
        }
    }

    private sealed record Initialised(WorkersTables Tables, string ConnectionString);
}
