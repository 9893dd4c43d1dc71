using Npgsql;
using Workers.Postgres.Storage;
using Xunit;

namespace Workers.Postgres.Tests.Unit;

public sealed class FailoverClassificationTests
{
    [Fact]
    public void SyncReplicationCancelledNotice_MeansNotDurable()
    {
        Assert.True(DurableCommit.IsSyncReplicationCancelled(new PostgresNotice("WARNING", "WARNING", "01000", "canceling wait for synchronous replication due to user request")));
        Assert.False(DurableCommit.IsSyncReplicationCancelled(new PostgresNotice("WARNING", "WARNING", "01000", "something else")));
        Assert.False(DurableCommit.IsSyncReplicationCancelled(new PostgresNotice("NOTICE", "NOTICE", "00000", "canceling wait for synchronous replication")));
    }

    [Fact]
    public void ReadOnlyTransactionOnStalePrimary_IsTransientAndAStaleHost()
    {
        var error = new PostgresException("cannot execute INSERT in a read-only transaction", "ERROR", "ERROR", "25006");

        Assert.True(WorkersExecutionStrategy.IsTransient(error));
        Assert.True(WorkersExecutionStrategy.IsStaleHost(error));
    }

    [Fact]
    public void NonDurableCommitAndSplitBrain_AreTransient()
    {
        Assert.True(WorkersExecutionStrategy.IsTransient(new NonDurableCommitException()));
        Assert.True(WorkersExecutionStrategy.IsTransient(new InvalidOperationException("wrapped", new SplitBrainException())));
    }

    [Fact]
    public void NoSuitableHostMidFailover_IsTransient()
    {
        var error = new NpgsqlException("No suitable host was found.", new AggregateException(new NpgsqlException("Failed to connect", new System.Net.Sockets.SocketException(111))));

        Assert.True(WorkersExecutionStrategy.IsTransient(error));
    }

    [Fact]
    public void ConstraintViolation_IsNotTransient() =>
        Assert.False(WorkersExecutionStrategy.IsTransient(new PostgresException("duplicate key", "ERROR", "ERROR", "23505")));
}
