using System.Globalization;
using System.Text.RegularExpressions;
using Workers.Testing;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Workers.IntegrationTests.Deploy;

/// <summary>
/// compose/docker-compose.yml read the way Compose reads it: YAML anchors and merge keys resolved, and
/// <c>${VAR:-default}</c> / <c>${VAR:?error}</c> interpolated with the defaults (or a placeholder for required values).
/// </summary>
internal sealed partial class ComposeFile
{
    private ComposeFile(string folder, string text, Dictionary<object, object> root)
    {
        Folder = folder;
        Text = text;
        Root = root;
    }

    /// <summary>The compose/ folder.</summary>
    public string Folder { get; }

    /// <summary>The file's raw text (before interpolation).</summary>
    public string Text { get; }

    private Dictionary<object, object> Root { get; }

    public static ComposeFile Load()
    {
        var folder = Path.Combine(LocalRabbitMqCluster.FindRepositoryRoot(), "compose");
        var text = File.ReadAllText(Path.Combine(folder, "docker-compose.yml"));
        var deserializer = new DeserializerBuilder().Build();
        var root = deserializer.Deserialize<Dictionary<object, object>>(new MergingParser(new Parser(new StringReader(text))));
        return new ComposeFile(folder, text, root);
    }

    public IReadOnlyDictionary<string, Dictionary<object, object>> Services =>
        Map(Root["services"]).ToDictionary(s => (string)s.Key, s => Map(s.Value), StringComparer.Ordinal);

    public IReadOnlyCollection<string> DeclaredVolumes =>
        Root.TryGetValue("volumes", out var volumes) ? [.. Map(volumes).Keys.Cast<string>()] : [];

    /// <summary>A service's environment, raw (uninterpolated) values.</summary>
    public static IReadOnlyDictionary<string, string> RawEnvironment(Dictionary<object, object> service)
    {
        if (!service.TryGetValue("environment", out var environment) || environment is null)
        {
            return new Dictionary<string, string>();
        }

        if (environment is List<object> list)
        {
            return list.Cast<string>().Select(e => e.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : string.Empty, StringComparer.Ordinal);
        }

        return Map(environment).ToDictionary(e => (string)e.Key, e => e.Value?.ToString() ?? string.Empty, StringComparer.Ordinal);
    }

    /// <summary>A service's environment with <c>${...}</c> interpolated (defaults, or <paramref name="required"/> for required values).</summary>
    public static IReadOnlyDictionary<string, string> Environment(Dictionary<object, object> service, string required = "placeholder") =>
        RawEnvironment(service).ToDictionary(e => e.Key, e => Interpolate(e.Value, required), StringComparer.Ordinal);

    public static string Interpolate(string value, string required = "placeholder") =>
        Variable().Replace(value, m => m.Groups["op"].Value switch
        {
            "-" or ":-" => m.Groups["arg"].Value,
            _ => required,
        });

    public static string? Scalar(Dictionary<object, object> map, params string[] path)
    {
        object? current = map;
        foreach (var key in path)
        {
            if (current is not Dictionary<object, object> dictionary || !dictionary.TryGetValue(key, out current))
            {
                return null;
            }
        }

        return current?.ToString();
    }

    public static Dictionary<object, object> Map(object? value) =>
        value as Dictionary<object, object> ?? throw new InvalidOperationException($"Expected a mapping, found {value?.GetType().Name ?? "null"}.");

    public static List<string> Strings(object? value) => value switch
    {
        null => [],
        string s => [s],
        List<object> list => [.. list.Select(o => o?.ToString() ?? string.Empty)],
        _ => throw new InvalidOperationException($"Expected a string or a list, found {value.GetType().Name}."),
    };

    /// <summary>Compose durations such as <c>40s</c>, <c>1m30s</c>.</summary>
    public static TimeSpan Duration(string value)
    {
        var total = TimeSpan.Zero;
        foreach (Match part in DurationPart().Matches(value))
        {
            var amount = double.Parse(part.Groups[1].Value, CultureInfo.InvariantCulture);
            total += part.Groups[2].Value switch
            {
                "h" => TimeSpan.FromHours(amount),
                "m" => TimeSpan.FromMinutes(amount),
                "s" => TimeSpan.FromSeconds(amount),
                "ms" => TimeSpan.FromMilliseconds(amount),
                _ => throw new FormatException(value),
            };
        }

        return total;
    }

    [GeneratedRegex(@"\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?<op>:?[-?])(?<arg>[^}]*))?\}")]
    private static partial Regex Variable();

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|h|m|s)")]
    private static partial Regex DurationPart();
}
