using Workers.Postgres.Storage;
using Xunit;

namespace Workers.Postgres.Tests.Unit;

public sealed class BatchedDeleteTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Run_KeepsDeletingWhileBatchesComeBackFull_AndStopsAtTheFirstShortOne()
    {
        var remaining = 2_500;
        var calls = 0;

        var result = await BatchedDelete.RunAsync(_ => Task.FromResult(Take(ref remaining, 1_000, ref calls)), 1_000, 100, null, Ct);

        Assert.Equal(new BatchedDeleteResult(2_500, 3, Capped: false), result);
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Run_AnExactMultiple_EndsWithOneEmptyBatch()
    {
        var remaining = 2_000;
        var calls = 0;

        var result = await BatchedDelete.RunAsync(_ => Task.FromResult(Take(ref remaining, 1_000, ref calls)), 1_000, 100, null, Ct);

        Assert.Equal(new BatchedDeleteResult(2_000, 3, Capped: false), result);
    }

    [Fact]
    public async Task Run_StopsAtMaxBatches_AndSaysCapped()
    {
        var remaining = 10_000;
        var calls = 0;

        var result = await BatchedDelete.RunAsync(_ => Task.FromResult(Take(ref remaining, 1_000, ref calls)), 1_000, 4, null, Ct);

        Assert.Equal(new BatchedDeleteResult(4_000, 4, Capped: true), result);
        Assert.Equal(6_000, remaining);
    }

    [Fact]
    public async Task Run_WhenKeepGoingTurnsFalse_StopsBeforeTheNextBatch()
    {
        var remaining = 10_000;
        var calls = 0;

        var result = await BatchedDelete.RunAsync(_ => Task.FromResult(Take(ref remaining, 1_000, ref calls)), 1_000, 100, () => calls < 2, Ct);

        Assert.Equal(new BatchedDeleteResult(2_000, 2, Capped: false), result);
    }

    [Fact]
    public async Task Run_Cancelled_StopsBetweenBatches()
    {
        using var cancellation = new CancellationTokenSource();
        var calls = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => BatchedDelete.RunAsync(
            _ =>
            {
                calls++;
                cancellation.Cancel();
                return Task.FromResult(1_000);
            },
            1_000,
            100,
            null,
            cancellation.Token));
        Assert.Equal(1, calls);
    }

    private static int Take(ref int remaining, int batch, ref int calls)
    {
        calls++;
        var taken = Math.Min(remaining, batch);
        remaining -= taken;
        return taken;
    }
}
