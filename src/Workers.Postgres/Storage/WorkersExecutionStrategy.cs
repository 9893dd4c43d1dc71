using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Npgsql.EntityFrameworkCore.PostgreSQL;

namespace Workers.Postgres.Storage;

/// <summary>
/// Npgsql's retrying execution strategy plus the failover cases it does not know:
/// <c>25006</c> (a pooled connection still on the old, now read-only primary: the pool is cleared first),
/// <see cref="NonDurableCommitException"/> and <see cref="SplitBrainException"/>.
/// </summary>
internal sealed class WorkersExecutionStrategy : NpgsqlRetryingExecutionStrategy
{
    public const string ReadOnlyTransaction = "25006";

    public WorkersExecutionStrategy(ExecutionStrategyDependencies dependencies, int maxRetryCount, TimeSpan maxRetryDelay)
        : base(dependencies, maxRetryCount, maxRetryDelay, [ReadOnlyTransaction])
    {
    }

    /// <summary>Whether a failure is worth another attempt (pure, shared with code paths outside EF).</summary>
    public static bool IsTransient(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case NonDurableCommitException or SplitBrainException or TimeoutException:
                    return true;
                case PostgresException { SqlState: ReadOnlyTransaction }:
                    return true;
                case NpgsqlException { IsTransient: true }:
                    return true;
                case NpgsqlException { InnerException: AggregateException } when current is not PostgresException:
                    return true; // "No suitable host was found": mid-failover, no host is primary yet
            }
        }

        return false;
    }

    /// <summary>Whether the failure means the connection reached a host that is no longer primary.</summary>
    public static bool IsStaleHost(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is PostgresException { SqlState: ReadOnlyTransaction } or NpgsqlException { IsTransient: true } or NpgsqlException { InnerException: AggregateException })
            {
                return true;
            }
        }

        return false;
    }

    protected override bool ShouldRetryOn(Exception? exception)
    {
        if (exception is null)
        {
            return false;
        }

        var retry = IsTransient(exception) || base.ShouldRetryOn(exception);
        if (retry && IsStaleHost(exception) && Dependencies.CurrentContext.Context.Database.GetDbConnection() is NpgsqlConnection connection)
        {
            NpgsqlConnection.ClearPool(connection);
        }

        return retry;
    }
}
