using System.Text.RegularExpressions;

namespace Workers.Packaging.Tests;

/// <summary>
/// The local feed the tests install from: <c>WORKERS_PACKAGES_FEED</c> when set (scripts/test.sh packs every package
/// there right after the solution build, with <c>scripts/pack.sh --no-build</c>), otherwise a folder of the test's
/// own that <c>scripts/pack.sh</c> fills (a build and a pack: a plain <c>dotnet test</c> of this project is then
/// self-contained and always tests the current sources).
/// </summary>
internal sealed partial class PackageFeed
{
    /// <summary>Environment variable naming an already packed feed.</summary>
    public const string FeedVariable = "WORKERS_PACKAGES_FEED";

    private PackageFeed(string directory, string version, string exportersVersion, TimeSpan packTime)
    {
        Directory = directory;
        Version = version;
        ExportersVersion = exportersVersion;
        PackTime = packTime;
    }

    /// <summary>The folder of the .nupkg files.</summary>
    public string Directory { get; }

    /// <summary>The version of the packages (WorkersFx.Hosting's; every stable package has it).</summary>
    public string Version { get; }

    /// <summary>The version of WorkersFx.Exporters (a prerelease while OpenTelemetry's Prometheus exporter is one).</summary>
    public string ExportersVersion { get; }

    /// <summary>How long the pack took here (zero when the feed was packed before the tests).</summary>
    public TimeSpan PackTime { get; }

    /// <summary>The feed named by <see cref="FeedVariable"/>, or a new one packed into <paramref name="scratch"/>.</summary>
    public static async Task<PackageFeed> GetAsync(string repository, string scratch, IReadOnlyDictionary<string, string> environment)
    {
        var configured = Environment.GetEnvironmentVariable(FeedVariable);
        var packTime = TimeSpan.Zero;
        string directory;
        if (!string.IsNullOrWhiteSpace(configured))
        {
            directory = configured;
        }
        else
        {
            directory = Path.Combine(scratch, "feed");
            var pack = await Command.RunAsync(
                "bash",
                [Path.Combine(repository, "scripts", "pack.sh")],
                repository,
                new Dictionary<string, string>(environment) { [FeedVariable] = directory },
                TimeSpan.FromMinutes(15));
            pack.Succeeded("scripts/pack.sh");
            packTime = pack.Elapsed;
        }

        var files = System.IO.Directory.Exists(directory) ? System.IO.Directory.GetFiles(directory, "*.nupkg").Select(Path.GetFileName).ToList() : [];
        return new PackageFeed(directory, VersionOf(files, "WorkersFx.Hosting", directory), VersionOf(files, "WorkersFx.Exporters", directory), packTime);
    }

    private static string VersionOf(List<string?> files, string id, string directory)
    {
        var versions = files.Select(f => PackageFile().Match(f ?? string.Empty)).Where(m => m.Success && m.Groups["id"].Value == id).Select(m => m.Groups["version"].Value).ToList();
        return versions.Count == 1
            ? versions[0]
            : throw new InvalidOperationException($"Expected exactly one {id} package in {directory} (scripts/pack.sh empties it first), found {versions.Count}: {string.Join(", ", files)}");
    }

    [GeneratedRegex(@"^(?<id>.+?)\.(?<version>[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?)\.nupkg$")]
    private static partial Regex PackageFile();
}
