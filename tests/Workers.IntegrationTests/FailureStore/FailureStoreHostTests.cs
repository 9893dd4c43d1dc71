using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Workers.IntegrationTests.Hosting;
using Workers.Postgres;
using Workers.Sample;
using Workers.Sample.Contracts;
using Workers.Sample.Orders;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.FailureStore;

/// <summary>The failure store enabled in the sample worker: a real dead-lettering lands in the store, grouped where the application threw.</summary>
public sealed class FailureStoreHostTests(RabbitMqTestVhost vhost, PostgresTestDatabase database) : IClassFixture<RabbitMqTestVhost>, IClassFixture<PostgresTestDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Enabled_APermanentFailure_IsStoredWithItsFaultAndAcknowledged()
    {
        await WorkersSchema.ApplyAsync(database.ConnectionString, cancellationToken: Ct);
        using var host = SampleTestHost.Build(vhost.Uri, database.ConnectionString, new OrderLedger(), new()
        {
            ["Sample:Payment:LatencyMs"] = "0",
            ["Workers:FailureStore:Enabled"] = "true",
            ["Workers:FailureStore:BatchSize"] = "50",
        });
        await host.StartAsync(Ct);
        var order = new SubmitOrder(Guid.NewGuid(), "customer-1", -5m);

        await host.Services.GetRequiredService<IBus>().Publish(order, Ct);
        await Eventually.HoldsAsync(async () => await CountAsync() == 1, TimeSpan.FromSeconds(60), "the dead letter stored", Ct);
        await vhost.WaitForReadyCountAsync(SampleHost.OrdersQueue + "_error", 0, TimeSpan.FromSeconds(30), Ct);
        await host.StopAsync(Ct);

        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("SELECT queue, dead_letter_queue, exception_type, consumer, status, stack_trace, host_version IS NOT NULL, headers ? 'MT-Fault-InputAddress' FROM workers_failures", connection);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct));
        Assert.Equal(SampleHost.OrdersQueue, reader.GetString(0));
        Assert.Equal(SampleHost.OrdersQueue + "_error", reader.GetString(1));
        Assert.EndsWith("ValidationException", reader.GetString(2), StringComparison.Ordinal);
        Assert.Equal(SampleHost.OrdersQueue, reader.GetString(3)); // Workers-Fault-Consumer names the endpoint
        Assert.Equal(FailureStatus.Unresolved, reader.GetString(4));
        // The group is where the application threw, not the pipeline that carried the exception.
        Assert.Equal($"{typeof(SubmitOrderConsumer).FullName}.Consume", Workers.Postgres.FailureStore.FailureFingerprint.ApplicationFrames(reader.GetString(5))[0]);
        Assert.True(reader.GetBoolean(6), "the host version travels in the fault headers");
        Assert.True(reader.GetBoolean(7), "every header is stored");
    }

    private async Task<long> CountAsync()
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM workers_failures", connection);
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }
}
