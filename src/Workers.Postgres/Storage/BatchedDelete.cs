namespace Workers.Postgres.Storage;

/// <summary>
/// One cleanup round: deletes in batches of at most <c>batchSize</c> rows, each batch its own short statement
/// (its own transaction, so row locks and WAL per statement stay small), and keeps going while a batch comes back
/// full, up to <c>maxBatches</c> batches. Pure loop: the SQL is the caller's.
/// </summary>
internal static class BatchedDelete
{
    /// <summary>Runs batches until one comes back short, <paramref name="maxBatches"/> ran, or <paramref name="keepGoing"/> says stop.</summary>
    /// <param name="deleteBatch">Deletes at most <paramref name="batchSize"/> rows; returns how many it deleted.</param>
    /// <param name="batchSize">The limit of one batch.</param>
    /// <param name="maxBatches">The bound of one round.</param>
    /// <param name="keepGoing">Asked before every batch after the first (e.g. writes still allowed); null: always.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    public static async Task<BatchedDeleteResult> RunAsync(
        Func<CancellationToken, Task<int>> deleteBatch, int batchSize, int maxBatches, Func<bool>? keepGoing, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deleteBatch);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatches, 1);
        long deleted = 0;
        var batches = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var count = await deleteBatch(cancellationToken).ConfigureAwait(false);
            deleted += count;
            batches++;
            if (count < batchSize)
            {
                return new BatchedDeleteResult(deleted, batches, Capped: false);
            }

            if (batches >= maxBatches)
            {
                return new BatchedDeleteResult(deleted, batches, Capped: true);
            }

            if (keepGoing is not null && !keepGoing())
            {
                return new BatchedDeleteResult(deleted, batches, Capped: false);
            }
        }
    }
}

/// <summary>What one cleanup round did.</summary>
/// <param name="Deleted">Rows deleted.</param>
/// <param name="Batches">Statements run.</param>
/// <param name="Capped">The round stopped at its batch bound with its last batch full: expired rows probably remain.</param>
internal readonly record struct BatchedDeleteResult(long Deleted, int Batches, bool Capped);
