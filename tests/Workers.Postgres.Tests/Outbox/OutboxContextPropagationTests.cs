using System.Diagnostics;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Workers.Postgres.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Postgres.Tests.Outbox;

/// <summary>
/// Issue 18: an event staged in the outbox by a consumer keeps the trace and the conversation of the message being
/// consumed, as a publish from the consumer would, although the dispatcher publishes it later from its own loop: the
/// consumer of the event sees the inbound conversation and correlation ids, the inbound MessageId as initiator, and
/// runs in the same trace. Own database, own vhost.
/// </summary>
public sealed class OutboxContextPropagationTests(PostgresTestDatabase database, RabbitMqTestVhost vhost) : IClassFixture<PostgresTestDatabase>, IClassFixture<RabbitMqTestVhost>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task EventStagedByAConsumer_ArrivesInItsTrace_WithItsConversationCorrelationAndInitiator()
    {
        // Tracing on, as with an exporter: MassTransit's spans (and their propagation) are recorded.
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "MassTransit" or "Workers" or nameof(OutboxContextPropagationTests),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        using var source = new ActivitySource(nameof(OutboxContextPropagationTests));

        await WorkerHost.CreateSchemaAsync(database.ConnectionString, Ct);
        var probe = new ConsumerProbe();
        using var host = WorkerHost.Build(new WorkerHostSettings { ConnectionString = database.ConnectionString, Broker = vhost.Uri, Queue = "traced" }, probe);
        await host.StartAsync(Ct);
        await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));

        var run = Guid.NewGuid();
        var inbound = Guid.NewGuid();
        var conversation = Guid.NewGuid();
        var correlation = Guid.NewGuid();
        ActivityTraceId trace;
        using (var request = source.StartActivity("request"))
        {
            trace = request!.TraceId;
            var endpoint = await host.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri("queue:traced"));
            await endpoint.Send(new OrderPlaced(run, 1, FollowUp: true), ctx =>
            {
                ctx.MessageId = inbound;
                ctx.ConversationId = conversation;
                ctx.CorrelationId = correlation;
            }, Ct);
        }

        var shipped = new OrderShipped(run, 1);
        await Eventually.HoldsAsync(() => probe.ShippedContexts.ContainsKey(shipped), Timeout, "the staged OrderShipped consumed", Ct);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await host.StopAsync(stop.Token);

        var seen = probe.ShippedContexts[shipped];
        Assert.Equal(conversation, seen.ConversationId);
        Assert.Equal(correlation, seen.CorrelationId);
        Assert.Equal(inbound, seen.InitiatorId);
        Assert.Equal(trace, seen.TraceId);

        // The reserved headers that carried them are not on the wire (the row keeps them).
        Assert.False(seen.ReservedHeaders);
        var headers = await Db.ScalarAsync<string>(database.ConnectionString, "SELECT headers FROM workers_outbox WHERE body LIKE '%' || @run || '%'", Ct, ("run", run.ToString()));
        Assert.Contains(Workers.Postgres.Outbox.OutboxContextHeaders.TraceParent, headers, StringComparison.Ordinal);
    }
}
