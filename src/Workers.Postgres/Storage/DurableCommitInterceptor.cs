using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace Workers.Postgres.Storage;

/// <summary>
/// Makes every EF Core commit (explicit transactions and SaveChanges) throw <see cref="NonDurableCommitException"/>
/// when PostgreSQL says the synchronous standby did not confirm it. SaveChanges is switched to
/// <see cref="AutoTransactionBehavior.Always"/>: EF Core otherwise runs a single INSERT without a transaction, and the
/// commit notice of that autocommit statement would escape the transaction hooks.
/// </summary>
internal sealed class DurableCommitInterceptor : DbTransactionInterceptor, ISaveChangesInterceptor
{
    public static DurableCommitInterceptor Instance { get; } = new();

    public InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        RequireTransaction(eventData);
        return result;
    }

    public ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        RequireTransaction(eventData);
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult TransactionCommitting(DbTransaction transaction, TransactionEventData eventData, InterceptionResult result)
    {
        Begin(transaction);
        return result;
    }

    public override ValueTask<InterceptionResult> TransactionCommittingAsync(DbTransaction transaction, TransactionEventData eventData, InterceptionResult result, CancellationToken cancellationToken = default)
    {
        Begin(transaction);
        return ValueTask.FromResult(result);
    }

    public override void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => End(transaction);

    public override Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        End(transaction);
        return Task.CompletedTask;
    }

    public override void TransactionFailed(DbTransaction transaction, TransactionErrorEventData eventData) => DurableCommit.EndFor(transaction);

    public override Task TransactionFailedAsync(DbTransaction transaction, TransactionErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        DurableCommit.EndFor(transaction);
        return Task.CompletedTask;
    }

    private static void RequireTransaction(DbContextEventData eventData)
    {
        if (eventData.Context is { } context && context.Database.AutoTransactionBehavior == AutoTransactionBehavior.WhenNeeded)
        {
            context.Database.AutoTransactionBehavior = AutoTransactionBehavior.Always;
        }
    }

    private static void Begin(DbTransaction transaction)
    {
        if (transaction.Connection is NpgsqlConnection connection)
        {
            DurableCommit.BeginFor(transaction, connection);
        }
    }

    private static void End(DbTransaction transaction) => DurableCommit.EndFor(transaction)?.ThrowIfNotDurable();
}
