using System.Text.Json;
using System.Text.Json.Nodes;
using MassTransit;

namespace Workers.Hosting.Tests.Bus;

/// <summary>Reads a built (never started) bus's <c>Probe()</c> output: one endpoint's filters, outermost first, then its consumer.</summary>
internal static class PipelineProbe
{
    public static JsonObject Endpoint(IBus bus, string queue, CancellationToken cancellationToken)
    {
        var json = JsonSerializer.SerializeToNode(((IBusControl)bus).GetProbeResult(cancellationToken).Results)!;
        return Find(json, queue) ?? throw new InvalidOperationException($"No endpoint '{queue}' in the probe: {json.ToJsonString()}");
    }

    /// <summary>The endpoint's filter types in pipe order, then <c>consumer:&lt;type name&gt;</c> for each consumer.</summary>
    public static List<string> Stages(IBus bus, string queue, CancellationToken cancellationToken)
    {
        List<string> stages = [];
        Walk(Endpoint(bus, queue, cancellationToken), stages);
        return stages;
    }

    /// <summary>Each expected name occurs, in this order (other filters may sit between them).</summary>
    public static void AssertOrder(IReadOnlyList<string> stages, params string[] expected)
    {
        var at = -1;
        foreach (var name in expected)
        {
            var next = stages.Select((s, i) => (s, i)).FirstOrDefault(x => x.i > at && x.s == name, (s: "", i: -1)).i;
            Xunit.Assert.True(next > at, $"'{name}' missing after position {at} in: {string.Join(" → ", stages)}");
            at = next;
        }
    }

    private static JsonObject? Find(JsonNode? node, string queue)
    {
        switch (node)
        {
            case JsonObject o:
                if (o["name"] is JsonValue v && v.TryGetValue<string>(out var name) && name == queue && o.ToJsonString().Contains("\"filterType\"", StringComparison.Ordinal))
                {
                    return o;
                }

                foreach (var (_, child) in o)
                {
                    if (Find(child, queue) is { } found)
                    {
                        return found;
                    }
                }

                return null;
            case JsonArray a:
                return a.Select(child => Find(child, queue)).FirstOrDefault(found => found is not null);
            default:
                return null;
        }
    }

    private static void Walk(JsonNode? node, List<string> stages)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, child) in o)
                {
                    if (key == "filterType" && child is JsonValue f)
                    {
                        stages.Add(f.GetValue<string>());
                    }
                    else if (key == "consumer" && child is JsonObject c && c["type"] is JsonValue t)
                    {
                        stages.Add("consumer:" + t.GetValue<string>().Split('.')[^1]);
                    }
                    else
                    {
                        Walk(child, stages);
                    }
                }

                break;
            case JsonArray a:
                foreach (var child in a)
                {
                    Walk(child, stages);
                }

                break;
        }
    }
}

/// <summary>A filter of the application's that only names itself in the probe.</summary>
internal sealed class NamedFilter(string name) : IFilter<ConsumeContext>
{
    public Task Send(ConsumeContext context, IPipe<ConsumeContext> next) => next.Send(context);

    public void Probe(ProbeContext context) => context.CreateFilterScope(name);
}
