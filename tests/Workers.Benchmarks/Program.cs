using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Workers.Benchmarks;
using Workers.Benchmarks.Contenders;
using Workers.Benchmarks.Micro;
using Workers.Benchmarks.Reporting;

if (args.Length > 0 && args[0] == "--failure-store")
{
    return await Workers.Benchmarks.FailureStore.FailureStoreBench.RunAsync(args[1..], CancellationToken.None);
}

BenchSettings settings;
try
{
    settings = BenchSettings.Parse(args);
}
catch (UsageException exception)
{
    if (exception.Message.Length > 0)
    {
        Console.Error.WriteLine($"error: {exception.Message}");
    }

    Console.Error.WriteLine(BenchSettings.Usage);
    return exception.Message.Length > 0 ? 2 : 0;
}

if (settings.Micro)
{
    var config = DefaultConfig.Instance
        .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
        .WithOptions(ConfigOptions.DisableOptimizationsValidator)
        .WithArtifactsPath(Path.Combine(settings.OutputDirectory, "micro"));
    BenchmarkSwitcher.FromTypes([typeof(ExceptionClassifierBenchmarks), typeof(FilterPassThroughBenchmarks), typeof(PipelineHotPathBenchmarks)])
        .Run([.. settings.MicroArguments.DefaultIfEmpty("--filter"), .. settings.MicroArguments.Count == 0 ? new[] { "*" } : []], config);
    return 0;
}

// The default contenders, in report order. Variants run only when named with --only:
//   masstransit-pP[-cC][-raw]   MassTransit with prefetch P, ConcurrentMessageLimit C, raw JSON serializer
//   workers[-inbox]-pP[-cC]     Workers (with the inbox) configured through Workers:RabbitMq:PrefetchCount / Endpoints:Q:ConcurrentMessageLimit
//   wolverine-lN                Wolverine with N parallel listeners
Contender[] all =
[
    new RawContender(),
    new MassTransitContender(MassTransitSettings.Defaults),
    new MassTransitContender(MassTransitSettings.Tuned),
    new WolverineContender(),
    new WorkersContender(),
    new WorkersContender("workers-inbox", inbox: true),
    new WolverineContender("wolverine-inbox", inbox: true),
];

IReadOnlyList<Contender> contenders;
if (settings.Only.Count == 0)
{
    contenders = all;
}
else
{
    var known = all.ToDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);
    var chosen = new List<Contender>();
    foreach (var name in settings.Only)
    {
        var contender = known.GetValueOrDefault(name) ?? Variants.Parse(name);
        if (contender is null)
        {
            Console.Error.WriteLine($"error: unknown contender '{name}'; known: {string.Join(", ", known.Keys)}, masstransit-pP[-cC][-raw], workers[-inbox]-pP[-cC], wolverine-lN");
            return 2;
        }

        chosen.Add(contender);
    }

    contenders = chosen;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

Console.WriteLine($"Workers benchmarks: {string.Join(", ", contenders.Select(c => c.Name))}; {settings.Messages} messages, {settings.Rounds} rounds. The machine should be otherwise idle; it rarely is: compare ratios within one run.");
var results = await new BenchRunner(settings, contenders, Console.Out).RunAsync(cancel.Token);

Directory.CreateDirectory(settings.OutputDirectory);
var stamp = results.Started.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
var chart = $"bench-{stamp}.png";
try
{
    ChartWriter.Write(results, Path.Combine(settings.OutputDirectory, chart));
}
catch (Exception exception) when (exception is not OutOfMemoryException)
{
    results.Problem($"chart: {exception.GetType().Name}: {exception.Message}");
}

var report = Path.Combine(settings.OutputDirectory, $"bench-{stamp}.md");
await File.WriteAllTextAsync(report, ReportWriter.Markdown(results, settings, chart));
Console.WriteLine();
Console.WriteLine(ReportWriter.Table(results));
foreach (var problem in results.Problems)
{
    Console.WriteLine($"problem: {problem}");
}

Console.WriteLine($"report: {Path.GetFullPath(report)}");
Console.WriteLine($"chart:  {Path.GetFullPath(Path.Combine(settings.OutputDirectory, chart))}");
return 0;
