using System.Globalization;
using System.Text;
using RabbitMQ.Client;
using Xunit;

namespace Workers.FaultTests;

/// <summary>
/// Scenario 8: poison and bad input mixed into a healthy load. Each bad message ends in the right queue with a reason
/// header; the healthy orders are all applied exactly once and none is dead-lettered.
/// Oversized bodies: RabbitMQ's own limit (<c>max_message_size</c>, 128 MiB by default) is lowered on the private node
/// to 1 MiB for the test; a 2 MiB publish is then refused by the broker (channel closed, 406), so the producer knows it
/// was never accepted, and a 512 KiB order under the limit is processed like any other.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class PoisonInputFaultTests(FaultNode node, FaultReport report)
{
    private const int EachKind = 5;
    private const int Limit = 1024 * 1024;

    /// <summary>Not dead-lettered: MassTransit reads a valid envelope without a content type with its default JSON deserializer.</summary>
    private const string Applied = "applied";

    [Fact]
    public async Task BadInputMixedIntoLoad_EachDeadLetteredWhereItBelongs_HealthyUnaffected()
    {
        // Lowered before any client of the scenario connects. RabbitMQ 4.0 also keeps the limit in a persistent term,
        // read when a channel opens: both are set (and restored).
        var original = await node.CtlAsync(["eval", "application:get_env(rabbit, max_message_size)."], FaultScenario.Cancel);
        var restore = new string(original.Where(char.IsAsciiDigit).ToArray()) is { Length: > 0 } digits ? digits : "134217728";
        await node.CtlAsync(["eval", SetMaxMessageSize(Limit.ToString(CultureInfo.InvariantCulture))], FaultScenario.Cancel);
        try
        {
            await using var scenario = await FaultScenario.StartAsync(node, "poison");
            var worker = scenario.StartWorker(extra: new Dictionary<string, string>
            {
                ["Workers__Defaults__Redelivery__MaxRedeliveryAttempts"] = "3",
            });
            await scenario.WaitConsumingAsync(worker);
            scenario.StartLoad();
            await scenario.WaitForProgressAsync(100, FaultScenario.Bound, worker);

            var all = new Dictionary<Guid, (string Kind, string Queue)>();
            var large = new List<Guid>();
            var refused = 0;
            for (var i = 0; i < EachKind; i++)
            {
                foreach (var (kind, queue, publish) in Kinds())
                {
                    var id = Guid.NewGuid();
                    await publish(scenario.Load, id);
                    all[id] = (kind, queue);
                }

                var big = Guid.NewGuid();
                await scenario.Load.PublishRawAsync(OrderLoad.SubmitOrderType, OrderLoad.Envelope(big, OrderLoad.SubmitOrderType, new { orderId = big, customerId = "c-large", amount = 10m, note = new string('x', Limit / 2) }), OrderLoad.Properties(big), FaultScenario.Cancel);
                large.Add(big);
                try
                {
                    var huge = Guid.NewGuid();
                    await scenario.Load.PublishRawAsync(OrderLoad.SubmitOrderType, OrderLoad.Envelope(huge, OrderLoad.SubmitOrderType, new { orderId = huge, customerId = "c-huge", amount = 10m, note = new string('x', 2 * Limit) }), OrderLoad.Properties(huge), FaultScenario.Cancel);
                    Assert.Fail("the broker accepted a body over max_message_size");
                }
                catch (Exception exception) when (exception is not OperationCanceledException and not Xunit.Sdk.XunitException)
                {
                    refused++;
                }
            }

            var expected = all.Where(e => e.Value.Queue != Applied).ToDictionary();
            var tolerated = all.Where(e => e.Value.Queue == Applied).Select(e => e.Key).ToList();
            scenario.Note($"published {all.Count} bad + {large.Count} large; {refused} oversized refused by the broker");
            try
            {
                await FaultScenario.WaitUntilAsync(() => Task.FromResult(expected.Keys.All(scenario.Observer.DeadLettered.ContainsKey)), FaultScenario.Bound, "every bad message dead-lettered", worker);
            }
            catch (TimeoutException exception)
            {
                var missing = expected.Where(e => !scenario.Observer.DeadLettered.ContainsKey(e.Key)).GroupBy(e => e.Value.Kind).Select(g => $"{g.Key} x{g.Count()}");
                var seen = scenario.Observer.DeadLettered.Values.Distinct().Select(d => d.ToString());
                throw new TimeoutException($"not dead-lettered: {string.Join(", ", missing)}; dead letters seen: {string.Join(" | ", seen.Take(20))}", exception);
            }

            await FaultScenario.WaitUntilAsync(
                async () =>
                {
                    await scenario.Effects.RefreshAsync(FaultScenario.Cancel);
                    return tolerated.Concat(large).All(scenario.Effects.Accepted.ContainsKey);
                },
                FaultScenario.Bound,
                "the large orders and those without a content type applied");
            var row = await scenario.SettleAsync("8 poison mixed in", null, string.Empty);
            await scenario.Effects.RefreshAsync(FaultScenario.Cancel);

            var misplaced = expected.Where(e => scenario.Observer.DeadLettered[e.Key].Queue != e.Value.Queue || scenario.Observer.DeadLettered[e.Key].Reason is null)
                .Select(e => $"{e.Value.Kind}: expected {e.Value.Queue}, got {scenario.Observer.DeadLettered[e.Key]}").ToList();
            var byKind = expected.GroupBy(e => e.Value.Kind).Select(g => $"{g.Key}->{g.First().Value.Queue}({scenario.Observer.DeadLettered[g.First().Key].Disposition ?? scenario.Observer.DeadLettered[g.First().Key].Reason})");
            row = row with
            {
                DeadLettered = expected.Count(e => scenario.Observer.DeadLettered.ContainsKey(e.Key)),
                Notes = $"{string.Join(", ", byKind)}; no-content-type applied {tolerated.Count(scenario.Effects.Accepted.ContainsKey)}/{tolerated.Count}; large 512KiB applied {large.Count(scenario.Effects.Accepted.ContainsKey)}/{large.Count}; 2MiB refused {refused}/{EachKind}; healthy dead-lettered {row.DeadLettered}",
            };
            report.Add(row);
            scenario.AssertSound(row);
            Assert.Empty(misplaced);
            Assert.True(expected.Count == scenario.Observer.DeadLetterCount, $"each bad message dead-lettered once: {expected.Count} expected, {scenario.Observer.DeadLetterCount} dead letters seen");
            Assert.Equal(EachKind, refused);
            Assert.All(large, id => Assert.True(scenario.Effects.Accepted.ContainsKey(id), "a large order under the limit is applied"));
            Assert.True(scenario.Load.Confirmed.Keys.All(id => !scenario.Observer.DeadLettered.ContainsKey(id)), "healthy orders dead-lettered: " + scenario.DeadLetterSummary(scenario.Load.Confirmed.Keys));
            Assert.True(expected.Keys.All(id => !scenario.Effects.Accepted.ContainsKey(id)), "a bad message was applied");
        }
        finally
        {
            await node.CtlAsync(["eval", SetMaxMessageSize(restore)], CancellationToken.None);
        }
    }

    // The node's message size limit, where 3.10 (application environment) and 4.0 (also a persistent term) read it.
    private static string SetMaxMessageSize(string bytes) =>
        $"application:set_env(rabbit, max_message_size, {bytes}), case persistent_term:get(max_message_size, undefined) of undefined -> ok; _ -> persistent_term:put(max_message_size, {bytes}) end.";

    private static IEnumerable<(string Kind, string Queue, Func<OrderLoad, Guid, Task> Publish)> Kinds()
    {
        var cancel = FaultScenario.Cancel;
        yield return ("malformed-json", QueueObserver.ErrorQueue, (load, id) => load.PublishRawAsync(OrderLoad.SubmitOrderType, Encoding.UTF8.GetBytes("{\"messageId\":\"" + id + "\",\"message\":{\"orderId\":"), OrderLoad.Properties(id), cancel));
        yield return ("unknown-type", QueueObserver.SkippedQueue, (load, id) => load.PublishRawAsync(OrderLoad.SubmitOrderType, OrderLoad.Envelope(id, "Workers.Sample.Contracts:NoSuchMessage", OrderLoad.Order(id)), OrderLoad.Properties(id), cancel));
        yield return ("no-content-type", Applied, (load, id) => load.PublishRawAsync(OrderLoad.SubmitOrderType, OrderLoad.Envelope(id, OrderLoad.SubmitOrderType, OrderLoad.Order(id)), new BasicProperties { MessageId = id.ToString(), Persistent = true }, cancel));
        yield return ("no-message-id", QueueObserver.ErrorQueue, (load, id) => load.PublishRawAsync(OrderLoad.SubmitOrderType, EnvelopeWithoutId(OrderLoad.Order(id)), new BasicProperties { ContentType = "application/vnd.masstransit+json", Persistent = true }, cancel));
        yield return ("amount<=0", QueueObserver.ErrorQueue, (load, id) => load.PublishRawAsync(OrderLoad.SubmitOrderType, OrderLoad.Envelope(id, OrderLoad.SubmitOrderType, OrderLoad.Order(id, -5m)), OrderLoad.Properties(id), cancel));
    }

    private static byte[] EnvelopeWithoutId(object message) => Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["messageType"] = new[] { "urn:message:" + OrderLoad.SubmitOrderType },
        ["message"] = message,
    }));
}
