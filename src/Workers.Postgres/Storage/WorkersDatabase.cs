using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Workers.Postgres.Outbox;

namespace Workers.Postgres.Storage;

/// <summary>Per-DbContext-type shared state: table names, topology guard, backlog, wake-up signal.</summary>
internal sealed class WorkersDatabase<TDbContext>(IServiceScopeFactory scopeFactory, TimeProvider timeProvider)
    where TDbContext : DbContext
{
    private readonly object gate = new();
    private WorkersTables? tables;
    private string? connectionString;

    public PostgresTopology Topology { get; } = new();

    public OutboxBacklog Backlog { get; } = new(timeProvider);

    public OutboxSignal Signal { get; } = new();

    public DatabaseAvailability Availability { get; } = new();

    public WorkersTables Tables => EnsureInitialised().Tables;

    public string ConnectionString => EnsureInitialised().ConnectionString;

    private (WorkersTables Tables, string ConnectionString) EnsureInitialised()
    {
        lock (gate)
        {
            if (tables is null || connectionString is null)
            {
                using var scope = scopeFactory.CreateScope();
                var context = scope.ServiceProvider.GetRequiredService<TDbContext>();
                tables = WorkersTables.From(context);
                connectionString = context.Database.GetConnectionString()
                    ?? throw new InvalidOperationException($"{typeof(TDbContext).Name} has no connection string (configure it with UseWorkersPostgres(connectionString)).");
                Topology.Configure(connectionString, TimeSpan.FromSeconds(2));
            }

            return (tables, connectionString);
        }
    }
}
