using System.Globalization;

namespace Workers.Benchmarks;

/// <summary>The command line: <c>[--quick] [--rounds N] [--messages N] [--only a,b] [--outbox-backlog N] [--micro] [--out DIR]</c>.</summary>
internal sealed class BenchSettings
{
    public const int DefaultMessages = 50_000;
    public const int QuickMessages = 5_000;
    public const int DefaultRounds = 5;
    public const int QuickRounds = 3;

    /// <summary>Messages per throughput workload.</summary>
    public int Messages { get; private set; } = DefaultMessages;

    /// <summary>Interleaved rounds (every contender runs every workload once per round).</summary>
    public int Rounds { get; private set; } = DefaultRounds;

    /// <summary>Whether <c>--quick</c> was given (smaller defaults).</summary>
    public bool Quick { get; private set; }

    /// <summary>Contender names to run (all when empty).</summary>
    public IReadOnlyList<string> Only { get; private set; } = [];

    /// <summary>Workload names to run (all when empty).</summary>
    public IReadOnlyList<string> Workloads { get; private set; } = [];

    /// <summary>Run the BenchmarkDotNet micro-benchmarks instead of the comparison.</summary>
    public bool Micro { get; private set; }

    /// <summary>Where the report and chart are written.</summary>
    public string OutputDirectory { get; private set; } = "results";

    /// <summary>Publishes in flight per producer (the confirm window), the same for every contender.</summary>
    public int PublishWindow { get; private set; } = 100;

    /// <summary>Seconds of fixed-rate traffic in the latency workload.</summary>
    public int LatencySeconds { get; private set; } = 8;

    /// <summary>Rows of the outbox relay-drain backlog (null = the outbox transaction count, messages / 5).</summary>
    public int? OutboxBacklog { get; private set; }

    /// <summary>Fixed rate (transactions per second) of the outbox commit→consume latency workload.</summary>
    public int OutboxRate { get; private set; } = DefaultOutboxRate;

    public const int DefaultOutboxRate = 200;

    /// <summary>Arguments after <c>--micro</c>, handed to BenchmarkDotNet.</summary>
    public IReadOnlyList<string> MicroArguments { get; private set; } = [];

    /// <summary>The command line as given, for the report.</summary>
    public string CommandLine { get; private set; } = string.Empty;

    public static BenchSettings Parse(string[] args)
    {
        var settings = new BenchSettings { CommandLine = string.Join(' ', args) };
        int? messages = null;
        int? rounds = null;
        int? latency = null;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            switch (arg)
            {
                case "--quick":
                    settings.Quick = true;
                    break;
                case "--rounds":
                    rounds = Number(args, ref i, 1);
                    break;
                case "--messages":
                    messages = Number(args, ref i, 100);
                    break;
                case "--window":
                    settings.PublishWindow = Number(args, ref i, 1);
                    break;
                case "--latency-seconds":
                    latency = Number(args, ref i, 1);
                    break;
                case "--outbox-backlog":
                    settings.OutboxBacklog = Number(args, ref i, 100);
                    break;
                case "--outbox-rate":
                    settings.OutboxRate = Number(args, ref i, 1);
                    break;
                case "--only":
                    settings.Only = List(Value(args, ref i));
                    break;
                case "--workloads":
                    settings.Workloads = List(Value(args, ref i));
                    break;
                case "--out":
                    settings.OutputDirectory = Value(args, ref i);
                    break;
                case "--micro":
                    settings.Micro = true;
                    settings.MicroArguments = args[(i + 1)..];
                    i = args.Length;
                    break;
                case "-h" or "--help":
                    throw new UsageException(null);
                default:
                    throw new UsageException($"unknown argument '{arg}'");
            }
        }

        settings.Messages = messages ?? (settings.Quick ? QuickMessages : DefaultMessages);
        settings.Rounds = rounds ?? (settings.Quick ? QuickRounds : DefaultRounds);
        settings.LatencySeconds = latency ?? (settings.Quick ? 3 : 8);
        return settings;
    }

    public const string Usage =
        "usage: dotnet run -c Release --project tests/Workers.Benchmarks -- [--quick] [--rounds N] [--messages N]\n" +
        "           [--only raw,masstransit-default,masstransit-tuned,wolverine,workers] [--workloads drain,publish,e2e,latency,outbox,failure]\n" +
        "           [--window N] [--latency-seconds N] [--outbox-backlog N] [--outbox-rate N] [--out DIR]\n" +
        "       dotnet run -c Release --project tests/Workers.Benchmarks -- --micro [BenchmarkDotNet arguments]";

    private static string Value(string[] args, ref int i)
    {
        if (i + 1 >= args.Length)
        {
            throw new UsageException($"{args[i]} needs a value");
        }

        return args[++i];
    }

    private static int Number(string[] args, ref int i, int minimum)
    {
        var name = args[i];
        var text = Value(args, ref i);
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < minimum)
        {
            throw new UsageException($"{name} must be an integer ≥ {minimum} (was '{text}')");
        }

        return value;
    }

    private static string[] List(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>A bad command line.</summary>
internal sealed class UsageException(string? message) : Exception(message ?? string.Empty);
