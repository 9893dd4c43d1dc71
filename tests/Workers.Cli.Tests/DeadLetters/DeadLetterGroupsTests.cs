using System.Text.Json.Nodes;
using Npgsql;
using Workers.Cli.Tests.Contracts;
using Workers.Cli.Tests.Support;
using Workers.Postgres;
using Workers.Testing;
using Xunit;

namespace Workers.Cli.Tests.DeadLetters;

public sealed class DeadLetterGroupsTests(RabbitMqTestVhost vhost, PostgresTestDatabase database) : BrokerTestClass(vhost), IClassFixture<PostgresTestDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Store_GroupsLargestFirst_TableAndJson_StatusFilter()
    {
        await WorkersSchema.ApplyAsync(database.ConnectionString, "groups", Ct);
        await ExecuteAsync("""
            INSERT INTO groups.workers_failures (queue, dead_letter_queue, message_id, failure_key, consumer, headers, body, exception_type, exception_message, attempts, first_failure, last_failure, host_version, fingerprint, status, ingested_at)
            SELECT 'orders', 'orders_error', 'm-' || i, '', 'Acme.PlaceOrder', '{}', '\x7b7d', 'System.TimeoutException', E'slow \x1b[31mred', 3,
                   timestamptz '2026-12-01 10:00Z' + i * interval '1 minute', timestamptz '2026-12-01 10:05Z' + i * interval '1 minute', '1.0.0', '00000000000000aa', 'unresolved', now()
            FROM generate_series(1, 3) i;
            INSERT INTO groups.workers_failures (queue, dead_letter_queue, message_id, failure_key, headers, body, exception_type, attempts, last_failure, host_version, fingerprint, status, ingested_at)
            VALUES ('payments', 'payments_error', 'p-1', '', '{}', '\x7b7d', 'System.NullReferenceException', 1, '2026-12-02 08:00Z', '1.1.0', '00000000000000bb', 'unresolved', now()),
                   ('payments', 'payments_error', 'p-2', '', '{}', '\x7b7d', 'System.NullReferenceException', 1, '2026-12-02 09:00Z', '1.1.0', '00000000000000bb', 'archived', now());
            """);
        var store = new[] { "--postgres", database.ConnectionString, "--schema", "groups" };

        var json = await CliRunner.RunAsync(["dlq", "groups", "--json", .. store], cancellationToken: Ct);
        var table = await CliRunner.RunAsync(["dlq", "groups", .. store], cancellationToken: Ct);
        var archived = await CliRunner.RunAsync(["dlq", "groups", "--json", "--status", "archived", .. store], cancellationToken: Ct);
        var orders = await CliRunner.RunAsync(["dlq", "groups", "orders", "--json", .. store], cancellationToken: Ct);
        var newSince = await CliRunner.RunAsync(["dlq", "groups", "--json", "--new-since", "1.1.0", .. store], cancellationToken: Ct);

        Assert.True(json.ExitCode == 0, json.ToString());
        var groups = JsonNode.Parse(json.Output)!.AsArray();
        Assert.Equal(["00000000000000aa", "00000000000000bb"], groups.Select(g => g!["group"]!.GetValue<string>()));
        Assert.Equal([3L, 1L], groups.Select(g => g!["count"]!.GetValue<long>()));
        Assert.Equal("Acme.PlaceOrder", groups[0]!["consumer"]!.GetValue<string>());
        Assert.Equal("2026-12-01T10:01:00.0000000+00:00", groups[0]!["firstSeen"]!.GetValue<string>());
        Assert.Equal("2026-12-01T10:08:00.0000000+00:00", groups[0]!["lastSeen"]!.GetValue<string>());
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("2 group(s), 4 failure(s), from the failure store (unresolved).", table.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b", table.Output, StringComparison.Ordinal);
        Assert.Single(JsonNode.Parse(archived.Output)!.AsArray());
        Assert.Equal("orders", Assert.Single(JsonNode.Parse(orders.Output)!.AsArray())!["queue"]!.GetValue<string>());
        Assert.Equal("00000000000000bb", Assert.Single(JsonNode.Parse(newSince.Output)!.AsArray())!["group"]!.GetValue<string>());
    }

    [Fact]
    public async Task Store_WithoutItsTables_SaysRunMigrate()
    {
        var result = await CliRunner.RunAsync(["dlq", "groups", "--postgres", database.ConnectionString, "--schema", "nowhere"], cancellationToken: Ct);

        Assert.Equal(1, result.ExitCode);
        Assert.True(result.HasOneLineError, result.ToString());
        Assert.Contains("run 'workers migrate'", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Queue_WithoutAStore_GroupsTheErrorQueue_AndLeavesItUnchanged()
    {
        var failedAt = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 3; i++)
        {
            await Broker.PublishWorkersDeadLetterAsync("groups-q_error", "groups-q", new OrderSubmitted { Number = i }, "System.TimeoutException", 3, failedAt.AddMinutes(i));
        }

        for (var i = 0; i < 2; i++)
        {
            await Broker.PublishWorkersDeadLetterAsync("groups-q_error", "groups-q", new OrderSubmitted { Number = 10 + i }, "System.Net.Http.HttpRequestException", 5, failedAt);
        }

        var result = await CliRunner.RunAsync(Broker.Args("dlq", "groups", "groups-q", "--json"), cancellationToken: Ct);
        var noQueue = await CliRunner.RunAsync(Broker.Args("dlq", "groups"), cancellationToken: Ct);

        Assert.True(result.ExitCode == 0, result.ToString());
        var groups = JsonNode.Parse(result.Output)!.AsArray();
        Assert.Equal([3L, 2L], groups.Select(g => g!["count"]!.GetValue<long>()));
        Assert.Equal(["System.TimeoutException", "System.Net.Http.HttpRequestException"], groups.Select(g => g!["exceptionType"]!.GetValue<string>()));
        Assert.Equal("groups-q", groups[0]!["queue"]!.GetValue<string>());
        Assert.Equal(5u, await Broker.ReadyCountAsync("groups-q_error"));
        Assert.Equal(2, noQueue.ExitCode);
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(Ct);
    }
}
