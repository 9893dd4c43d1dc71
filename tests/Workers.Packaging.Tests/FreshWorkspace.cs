using System.Text;
using System.Xml.Linq;
using Workers.Testing;
using Xunit;

namespace Workers.Packaging.Tests;

/// <summary>
/// A temporary folder outside the repository where a user's apps are made: a nuget.config with the local feed and
/// the machine's own sources only, the fresh apps (tests/Workers.Packaging.Tests/Apps) built once against the
/// packages, and the CLI installed there as a dotnet tool (<c>--tool-path</c>). Packages restore into a packages
/// folder of its own (the machine's cache is only read, as a fallback folder), tools go to its own folder, and all
/// of it is deleted at the end: the user's global NuGet and tool state is never written.
/// </summary>
public sealed class FreshWorkspace : IAsyncLifetime
{
    private static readonly TimeSpan BuildBound = TimeSpan.FromMinutes(10);
    private readonly StringBuilder log = new();

    /// <summary>The workspace folder.</summary>
    public string Root { get; } = Path.Combine(Path.GetTempPath(), $"workers-packaging-{Guid.NewGuid():N}"[..32]);

    /// <summary>The installed <c>workers</c> command.</summary>
    public string Cli => Path.Combine(Root, "tools", "workers");

    /// <summary>The built Generic Host worker.</summary>
    public string WorkerAssembly => Path.Combine(Root, "apps", "worker", "bin", "Release", "net10.0", "Fresh.Worker.dll");

    /// <summary>The built ASP.NET Core worker.</summary>
    public string WebAssembly => Path.Combine(Root, "apps", "web", "bin", "Release", "net10.0", "Fresh.Web.dll");

    /// <summary>The <c>dotnet new</c> template package in the feed (WorkersFx.Templates).</summary>
    public string TemplatePackage { get; private set; } = string.Empty;

    /// <summary>The environment of every command run in the workspace.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; private set; } = new Dictionary<string, string>();

    /// <summary>What was done and how long it took (pack, build, tool install).</summary>
    public string Log
    {
        get
        {
            lock (log)
            {
                return log.ToString();
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(Root);
        var dotnetRoot = DotnetRoot();
        var environment = new Dictionary<string, string>
        {
            ["DOTNET_ROOT"] = dotnetRoot,
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
            // No build servers outliving the commands (they would hold the output pipes open).
            ["MSBUILDDISABLENODEREUSE"] = "1",
            ["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0",
            ["UseSharedCompilation"] = "false",
            ["NUGET_PACKAGES"] = Path.Combine(Root, "packages"),
            ["NUGET_HTTP_CACHE_PATH"] = Path.Combine(Root, "http-cache"),
        };
        Environment = environment;

        var repository = WorkerProcess.RepositoryRoot();
        var feed = await PackageFeed.GetAsync(repository, Root, environment);
        Write($"feed {feed.Directory}: WorkersFx {feed.Version}, WorkersFx.Exporters {feed.ExportersVersion}" + (feed.PackTime > TimeSpan.Zero ? $" (packed here in {feed.PackTime.TotalSeconds:0.0} s)" : " (packed before the tests)"));

        TemplatePackage = Path.Combine(feed.Directory, $"WorkersFx.Templates.{feed.Version}.nupkg");
        if (!File.Exists(TemplatePackage))
        {
            throw new InvalidOperationException($"{TemplatePackage} is missing: scripts/pack.sh packs src/Workers.Templates with the other packages.");
        }

        await WriteNuGetConfigAsync(feed);
        CopyApps();

        var build = await Command.RunAsync(
            "dotnet",
            ["build", "Fresh.slnx", "-c", "Release", "-nologo", "-clp:ErrorsOnly", "-nodeReuse:false", $"-p:WorkersFxVersion={feed.Version}", $"-p:WorkersFxExportersVersion={feed.ExportersVersion}"],
            Path.Combine(Root, "apps"),
            Environment,
            BuildBound);
        build.Succeeded("restoring and building the fresh apps from the local feed");
        Write($"fresh apps restored and built in {build.Elapsed.TotalSeconds:0.0} s");

        var tool = await Command.RunAsync(
            "dotnet",
            ["tool", "install", "WorkersFx.Cli", "--version", feed.Version, "--tool-path", Path.Combine(Root, "tools"), "--configfile", Path.Combine(Root, "nuget.config")],
            Root,
            Environment,
            BuildBound);
        tool.Succeeded("dotnet tool install WorkersFx.Cli");
        Write($"WorkersFx.Cli installed with --tool-path in {tool.Elapsed.TotalSeconds:0.0} s");
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A process still holding a file: the folder is under the temp folder and named as ours.
        }

        return ValueTask.CompletedTask;
    }

    private void Write(string line)
    {
        lock (log)
        {
            log.AppendLine(line);
        }
    }

    // The machine's configured sources (here a mirror of nuget.org), read from its NuGet configuration as a user's
    // restore would see them; the local feed first. The machine's package cache is a read-only fallback folder,
    // unless it already holds this version of a WorkersFx package (a stale copy would hide the feed's).
    private async Task WriteNuGetConfigAsync(PackageFeed feed)
    {
        var list = await Command.RunAsync("dotnet", ["nuget", "list", "source", "--format", "short"], Root, Environment, TimeSpan.FromMinutes(2));
        list.Succeeded("dotnet nuget list source");
        var sources = list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => line.StartsWith("E ", StringComparison.Ordinal))
            .Select(line => line[2..].Trim())
            .ToList();
        var machineCache = System.Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var stale = new[] { "workersfx.hosting", "workersfx.resilience", "workersfx.postgres", "workersfx.cli" }
            .Any(id => Directory.Exists(Path.Combine(machineCache, id, feed.Version.ToLowerInvariant())));
        var packageSources = new XElement("packageSources", new XElement("clear"), new XElement("add", new XAttribute("key", "workers-local"), new XAttribute("value", feed.Directory)));
        for (var i = 0; i < sources.Count; i++)
        {
            packageSources.Add(new XElement("add", new XAttribute("key", $"machine-{i}"), new XAttribute("value", sources[i])));
        }

        var configuration = new XElement("configuration", packageSources);
        if (!stale && Directory.Exists(machineCache))
        {
            configuration.Add(new XElement("fallbackPackageFolders", new XElement("clear"), new XElement("add", new XAttribute("key", "machine-cache"), new XAttribute("value", machineCache))));
        }

        await File.WriteAllTextAsync(Path.Combine(Root, "nuget.config"), new XDocument(configuration).ToString());
        Write($"nuget.config: local feed + {string.Join(", ", sources)}; machine cache {(stale ? "not used (it holds a WorkersFx " + feed.Version + ")" : "as a fallback folder")}");
    }

    private void CopyApps()
    {
        var source = Path.Combine(AppContext.BaseDirectory, "Apps");
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(Root, "apps", Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    // The SDK's folder (the running runtime lives under <root>/shared/Microsoft.NETCore.App/<version>): the tool's
    // launcher finds the runtime through DOTNET_ROOT.
    private static string DotnetRoot() =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));
}
