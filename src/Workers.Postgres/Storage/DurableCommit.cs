using System.Runtime.CompilerServices;
using Npgsql;

namespace Workers.Postgres.Storage;

/// <summary>
/// Watches a connection for the <c>canceling wait for synchronous replication</c> notice (trap 1 in LAB.md):
/// a commit that returns success with that notice is committed locally only.
/// </summary>
internal sealed class DurableCommit : IDisposable
{
    private const string SyncReplicationCancelled = "canceling wait for synchronous replication";
    private static readonly ConditionalWeakTable<object, DurableCommit> Watches = new();
    private readonly NpgsqlConnection connection;
    private int flagged;

    private DurableCommit(NpgsqlConnection connection)
    {
        this.connection = connection;
        connection.Notice += OnNotice;
    }

    public bool NotDurable => Volatile.Read(ref flagged) == 1;

    public static DurableCommit Watch(NpgsqlConnection connection) => new(connection);

    /// <summary>Starts watching on behalf of a key (a transaction) and stops in <see cref="EndFor"/>.</summary>
    public static void BeginFor(object key, NpgsqlConnection connection)
    {
        EndFor(key)?.Dispose();
        Watches.AddOrUpdate(key, new DurableCommit(connection));
    }

    public static DurableCommit? EndFor(object key)
    {
        if (Watches.TryGetValue(key, out var watch))
        {
            Watches.Remove(key);
            watch.Dispose();
            return watch;
        }

        return null;
    }

    /// <summary>Whether a notice says the wait for the synchronous standby was cancelled.</summary>
    public static bool IsSyncReplicationCancelled(PostgresNotice notice)
    {
        ArgumentNullException.ThrowIfNull(notice);
        return notice.SqlState == "01000" && notice.MessageText.Contains(SyncReplicationCancelled, StringComparison.OrdinalIgnoreCase);
    }

    public void ThrowIfNotDurable()
    {
        if (NotDurable)
        {
            throw new NonDurableCommitException();
        }
    }

    public void Dispose() => connection.Notice -= OnNotice;

    private void OnNotice(object? sender, NpgsqlNoticeEventArgs e)
    {
        if (IsSyncReplicationCancelled(e.Notice))
        {
            Volatile.Write(ref flagged, 1);
        }
    }
}
