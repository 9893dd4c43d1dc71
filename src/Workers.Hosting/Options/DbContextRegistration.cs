using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Workers.Postgres;

namespace Workers.Hosting;

/// <summary>
/// Who registers the application's DbContext for <c>UsePostgres</c>. The app, when it registered
/// <typeparamref name="TDbContext"/> (or its <c>DbContextOptions</c>) before <c>AddWorkers</c>: Workers registers nothing.
/// Otherwise Workers registers it (pooled when it can), on <c>Workers:Postgres:ConnectionString</c> — unless the app
/// registers it after <c>AddWorkers</c>: EF Core then applies the app's configuration too, and Workers' own steps
/// aside (found once, by applying the other configurations to a scratch builder), so the app's options builder alone
/// decides, whichever came first. Either way the host checks the result at start (Workers.Postgres' context check).
/// </summary>
/// <typeparam name="TDbContext">The application's context.</typeparam>
internal static class DbContextRegistration<TDbContext>
    where TDbContext : DbContext
{
    [ThreadStatic]
    private static bool probing;

    /// <summary>Whether the app registered the context before Workers (then Workers registers nothing).</summary>
    public static bool RegisteredByApp(IServiceCollection services) =>
        services.Any(d => d.ServiceType == typeof(TDbContext) || d.ServiceType == typeof(DbContextOptions<TDbContext>));

    /// <summary>Registers the context the way Workers always has, with a configuration that yields to one the app adds later.</summary>
    public static void Register(IServiceCollection services, bool pool)
    {
        var yields = new YieldDecision();
        void Configure(IServiceProvider sp, DbContextOptionsBuilder db)
        {
            if (probing || yields.AppConfigures(sp))
            {
                return;
            }

            db.UseWorkersPostgres(sp.GetRequiredService<IOptions<WorkersOptions>>().Value.Postgres.ConnectionString);
        }

        if (pool && DbContextPooling.CanPool(typeof(TDbContext)))
        {
            services.AddDbContextPool<TDbContext>(Configure);
        }
        else
        {
            services.AddDbContext<TDbContext>(Configure);
        }
    }

    /// <summary>Whether another registration configures a database provider; decided once (the registrations are fixed once built).</summary>
    private sealed class YieldDecision
    {
        private int decided; // 0 unknown, 1 Workers configures, 2 the app does

        public bool AppConfigures(IServiceProvider services)
        {
            if (Volatile.Read(ref decided) is var known and not 0)
            {
                return known == 2;
            }

            var scratch = new DbContextOptionsBuilder<TDbContext>();
            probing = true;
            try
            {
                foreach (var configuration in services.GetServices<IDbContextOptionsConfiguration<TDbContext>>())
                {
                    configuration.Configure(services, scratch);
                }
            }
            finally
            {
                probing = false;
            }

            var app = scratch.Options.Extensions.Any(e => e.Info.IsDatabaseProvider);
            Volatile.Write(ref decided, app ? 2 : 1);
            return app;
        }
    }
}
