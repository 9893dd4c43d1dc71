using System.Diagnostics.Metrics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Workers.Resilience;
using Workers.Testing;
using Xunit;

namespace Workers.Hosting.Tests.Telemetry;

/// <summary>
/// docs/telemetry.md cannot drift from the code: every instrument the framework publishes on the <c>Workers</c> meter
/// has a row (name, kind, unit) in its "Instruments" table, and every row is an instrument that exists. The instruments
/// are found by running the type initializers of the framework's assemblies (instruments are static fields or are
/// created in static constructors, by convention) and listening to what they publish.
/// </summary>
public sealed partial class TelemetryDocumentationTests
{
    /// <summary>The framework's assemblies; a source file under src/ that creates an instrument must be in one of them.</summary>
    private static readonly Assembly[] Framework =
    [
        typeof(WorkersTelemetry).Assembly,                              // Workers.Resilience
        typeof(Workers.Postgres.WorkersPostgresExtensions).Assembly,     // Workers.Postgres
        typeof(WorkersHostApplicationBuilderExtensions).Assembly,       // Workers.Hosting
    ];

    [Fact]
    public void EveryPublishedInstrument_HasADocRow_WithItsKindAndUnit_AndEveryRowIsPublished()
    {
        var published = PublishedInstruments();
        var documented = DocumentedInstruments();

        Assert.NotEmpty(published);
        var undocumented = published.Keys.Except(documented.Keys).Order(StringComparer.Ordinal).ToList();
        Assert.True(undocumented.Count == 0, $"instruments on the Workers meter without a row in docs/telemetry.md: {string.Join(", ", undocumented)}");
        var stale = documented.Keys.Except(published.Keys).Order(StringComparer.Ordinal).ToList();
        Assert.True(stale.Count == 0, $"rows in docs/telemetry.md for instruments the framework does not publish: {string.Join(", ", stale)}");
        foreach (var (name, actual) in published)
        {
            Assert.Equal((name, actual.Kind, actual.Unit), (name, documented[name].Kind, documented[name].Unit));
        }
    }

    [Fact]
    public void EverySourceFileThatCreatesAnInstrument_IsInAnAssemblyTheDocTestScans()
    {
        var src = Path.Combine(WorkerProcess.RepositoryRoot(), "src");
        var scanned = Framework.Select(a => a.GetName().Name!).ToHashSet(StringComparer.Ordinal);
        var outside = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => CreatesInstrument().IsMatch(File.ReadAllText(f)))
            .Select(f => Path.GetRelativePath(src, f))
            .Where(f => !scanned.Contains(f.Split(Path.DirectorySeparatorChar)[0]))
            .ToList();
        Assert.True(outside.Count == 0, $"instruments created outside the scanned assemblies (add the assembly to {nameof(Framework)}): {string.Join(", ", outside)}");
    }

    private static Dictionary<string, (string Kind, string? Unit)> PublishedInstruments()
    {
        var found = new Dictionary<string, (string Kind, string? Unit)>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, _) =>
        {
            if (instrument.Meter.Name == WorkersTelemetry.Name)
            {
                lock (found)
                {
                    found[instrument.Name] = (Kind(instrument), instrument.Unit);
                }
            }
        };
        listener.Start();
        foreach (var type in Framework.SelectMany(a => a.GetTypes()).Where(t => t.TypeInitializer is not null))
        {
            if (!type.IsGenericTypeDefinition)
            {
                RuntimeHelpers.RunClassConstructor(type.TypeHandle);
            }
            else if (HasStaticInstruments(type))
            {
                RuntimeHelpers.RunClassConstructor(Closed(type).TypeHandle);
            }
        }

        return found;
    }

    private static bool HasStaticInstruments(Type type) =>
        type.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic).Any(f => typeof(Instrument).IsAssignableFrom(f.FieldType));

    /// <summary>A generic type closed over its constraints (a static field of a generic type exists once per closed type).</summary>
    private static Type Closed(Type type)
    {
        if (!type.IsGenericTypeDefinition)
        {
            return type;
        }

        var arguments = type.GetGenericArguments()
            .Select(p => p.GetGenericParameterConstraints().FirstOrDefault(c => c.IsClass && !c.ContainsGenericParameters) ?? typeof(object))
            .ToArray();
        return type.MakeGenericType(arguments);
    }

    private static string Kind(Instrument instrument) =>
        instrument.GetType().IsGenericType ? instrument.GetType().Name[..instrument.GetType().Name.IndexOf('`', StringComparison.Ordinal)] : instrument.GetType().Name;

    /// <summary>The rows of the "## Instruments" section: <c>| `name` | Kind | unit | …</c>.</summary>
    private static Dictionary<string, (string Kind, string? Unit)> DocumentedInstruments()
    {
        var text = File.ReadAllText(Path.Combine(WorkerProcess.RepositoryRoot(), "docs", "telemetry.md"));
        var start = text.IndexOf("\n## Instruments", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/telemetry.md has no '## Instruments' section");
        var end = text.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var section = end < 0 ? text[start..] : text[start..end];
        var rows = new Dictionary<string, (string Kind, string? Unit)>(StringComparer.Ordinal);
        foreach (Match row in InstrumentRow().Matches(section))
        {
            var unit = row.Groups["unit"].Value.Trim().Trim('`');
            Assert.True(rows.TryAdd(row.Groups["name"].Value, (row.Groups["kind"].Value.Trim(), unit.Length == 0 || unit == "—" ? null : unit)), $"two rows for {row.Groups["name"].Value}");
        }

        return rows;
    }

    [GeneratedRegex(@"^\|\s*`(?<name>[a-z][a-z0-9_.]*)`[^|]*\|(?<kind>[^|]+)\|(?<unit>[^|]*)\|", RegexOptions.Multiline)]
    private static partial Regex InstrumentRow();

    [GeneratedRegex(@"Meter\.Create|MessagingConventions\.CreateDuration\(")]
    private static partial Regex CreatesInstrument();
}
