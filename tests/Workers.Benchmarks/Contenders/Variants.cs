using System.Globalization;
using System.Text.RegularExpressions;

namespace Workers.Benchmarks.Contenders;

/// <summary>Contender variants named on the command line, for exploring settings (prefetch, concurrency, serializer).</summary>
internal static partial class Variants
{
    public static Contender? Parse(string name)
    {
        var mt = MassTransitPattern().Match(name);
        if (mt.Success)
        {
            return new MassTransitContender(new MassTransitSettings(name, Int(mt.Groups["p"]), Int(mt.Groups["c"]), mt.Groups["raw"].Success));
        }

        var workers = WorkersPattern().Match(name);
        if (workers.Success)
        {
            return new WorkersContender(name, Int(workers.Groups["p"]), Int(workers.Groups["c"]), inbox: workers.Groups["inbox"].Success, telemetry: workers.Groups["notel"].Success ? false : null);
        }

        switch (name)
        {
            case "workers-notel":
                return new WorkersContender(name, telemetry: false);
            case "workers-inbox-nopool":
                return new WorkersContender(name, inbox: true, poolContexts: false);
            case "workers-inbox-noreset":
                return new WorkersContender(name, inbox: true, connectionOptions: "No Reset On Close=true");
        }

        var wolverine = WolverinePattern().Match(name);
        return wolverine.Success ? new WolverineContender(name, listeners: Int(wolverine.Groups["l"]) ?? 1) : null;
    }

    private static int? Int(Group group) => group.Success ? int.Parse(group.Value, CultureInfo.InvariantCulture) : null;

    [GeneratedRegex("^masstransit-p(?<p>[0-9]+)(-c(?<c>[0-9]+))?(?<raw>-raw)?$", RegexOptions.CultureInvariant)]
    private static partial Regex MassTransitPattern();

    [GeneratedRegex("^workers(?<inbox>-inbox)?-p(?<p>[0-9]+)(-c(?<c>[0-9]+))?(?<notel>-notel)?$", RegexOptions.CultureInvariant)]
    private static partial Regex WorkersPattern();

    [GeneratedRegex("^wolverine-l(?<l>[0-9]+)$", RegexOptions.CultureInvariant)]
    private static partial Regex WolverinePattern();
}
