using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Workers.Postgres.Storage;

/// <summary>
/// What the outbox and inbox need from the application's DbContext, whoever registered it (Workers, the app's own
/// <c>AddDbContextPool</c>/<c>AddDbContext</c>, Aspire's <c>AddNpgsqlDbContext</c>): Npgsql, Workers' retrying
/// execution strategy (failover errors, non-durable commits, split brain), the durable-commit interceptor, and a
/// connection string (the split-brain check and the outbox's NOTIFY listener open connections of their own).
/// Checked on a context built as the application builds it, so a later <c>UseNpgsql(…, o =&gt; o.EnableRetryOnFailure())</c>
/// that replaced Workers' strategy is seen. Pure apart from building that context.
/// </summary>
internal static class WorkersContextRequirements
{
    /// <summary>EF Core's name of the Npgsql provider.</summary>
    public const string NpgsqlProvider = "Npgsql.EntityFrameworkCore.PostgreSQL";

    /// <summary>What <paramref name="context"/> lacks; empty when it has everything.</summary>
    public static IReadOnlyList<string> Missing(DbContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var missing = new List<string>();
        var database = context.Database;
        if (database.ProviderName != NpgsqlProvider)
        {
            missing.Add($"the Npgsql provider (it uses {database.ProviderName ?? "none"})");
            return missing;
        }

        var strategy = database.CreateExecutionStrategy();
        if (strategy is not WorkersExecutionStrategy)
        {
            missing.Add($"Workers' execution strategy (it has {strategy.GetType().Name}: an EnableRetryOnFailure() or ExecutionStrategy(…) after UseWorkersPostgres() replaces it)");
        }

        var interceptors = context.GetService<IDbContextOptions>().FindExtension<CoreOptionsExtension>()?.Interceptors;
        if (interceptors?.Contains(DurableCommitInterceptor.Instance) != true)
        {
            missing.Add("the durable-commit interceptor (a commit the synchronous standby did not confirm would pass as durable)");
        }

        if (string.IsNullOrWhiteSpace(database.GetConnectionString()))
        {
            missing.Add("a connection string (UseNpgsql(connectionString); the split-brain check and the outbox listener connect with it)");
        }

        return missing;
    }

    /// <summary>The refusal, naming the context and everything it lacks, and the fix.</summary>
    public static string Refusal(Type contextType, IReadOnlyList<string> missing) =>
        $"Workers' outbox and inbox on {contextType.Name} need its failover-aware configuration, which the registered {contextType.Name} lacks: "
        + string.Join("; ", missing)
        + $". Add Workers' pieces to the options builder after UseNpgsql: AddDbContextPool<{contextType.Name}>(o => o.UseNpgsql(connectionString).UseWorkersPostgres()), "
        + $"or with Aspire AddNpgsqlDbContext<{contextType.Name}>(name, configureDbContextOptions: o => o.UseWorkersPostgres()); "
        + $"or let Workers register it (o.UseWorkersPostgres(connectionString), or UsePostgres<{contextType.Name}>() without registering it yourself).";
}

/// <summary>The options type whose start-up validation runs <see cref="WorkersContextRequirements"/> for <typeparamref name="TDbContext"/>.</summary>
/// <typeparam name="TDbContext">The application's context.</typeparam>
internal sealed class WorkersContextCheck<TDbContext>
    where TDbContext : DbContext
{
}

/// <summary>Refuses the host's start when <typeparamref name="TDbContext"/> is missing or lacks Workers' configuration.</summary>
internal sealed class WorkersContextCheckValidator<TDbContext>(IServiceScopeFactory scopes) : IValidateOptions<WorkersContextCheck<TDbContext>>
    where TDbContext : DbContext
{
    public ValidateOptionsResult Validate(string? name, WorkersContextCheck<TDbContext> options)
    {
        using var scope = scopes.CreateScope();
        IReadOnlyList<string> missing;
        try
        {
            var context = scope.ServiceProvider.GetService<TDbContext>();
            if (context is null)
            {
                return ValidateOptionsResult.Fail(
                    $"Workers' outbox and inbox use {typeof(TDbContext).Name}, which is not registered: register it (AddDbContextPool<{typeof(TDbContext).Name}>(o => o.UseWorkersPostgres(connectionString))) or call UsePostgres<{typeof(TDbContext).Name}>().");
            }

            missing = WorkersContextRequirements.Missing(context);
        }
        catch (InvalidOperationException exception)
        {
            // EF Core's own refusal (no provider configured, options it cannot use): said as it is, beside what Workers needs.
            missing = [$"a context EF Core can build ({exception.Message})"];
        }

        return missing.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(WorkersContextRequirements.Refusal(typeof(TDbContext), missing));
    }
}
