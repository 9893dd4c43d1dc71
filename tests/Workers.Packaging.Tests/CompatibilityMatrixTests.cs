using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Workers.Testing;
using Xunit;

namespace Workers.Packaging.Tests;

/// <summary>docs/compatibility.md names the versions the build really uses: each package row against
/// Directory.Packages.props, the SDK row against global.json.</summary>
public sealed partial class CompatibilityMatrixTests
{
    private static readonly string Root = WorkerProcess.RepositoryRoot();

    [Theory]
    [InlineData("MassTransit")]
    [InlineData("RabbitMQ.Client")]
    [InlineData("Npgsql")]
    [InlineData("Npgsql.EntityFrameworkCore.PostgreSQL")]
    [InlineData("Microsoft.EntityFrameworkCore")]
    [InlineData("OpenTelemetry.Extensions.Hosting")]
    public void PackageRow_NamesTheCentralVersion(string package)
    {
        var central = XDocument.Load(Path.Combine(Root, "Directory.Packages.props")).Descendants("PackageVersion")
            .Single(e => (string?)e.Attribute("Include") == package).Attribute("Version")!.Value;
        var row = Row(package);

        // The central version is the tested one, or (a range) the accepted one whose lower bound is the tested one.
        var lower = central.TrimStart('[', '(').Split(',')[0];
        Assert.Contains($"`{lower}`", row.Tested, StringComparison.Ordinal);
        if (central.StartsWith('['))
        {
            Assert.Contains($"`{central}`", row.Accepted, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void SdkRow_NamesGlobalJsonsVersion()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "global.json")));
        var version = json.RootElement.GetProperty("sdk").GetProperty("version").GetString();

        Assert.Contains($"`{version}`", Row(".NET SDK").Tested, StringComparison.Ordinal);
    }

    private static (string Tested, string Accepted) Row(string component)
    {
        var line = File.ReadLines(Path.Combine(Root, "docs", "compatibility.md")).SingleOrDefault(l => l.StartsWith($"| {component} |", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"docs/compatibility.md has no row for {component}.");
        var cells = Cells().Split(line.Trim().Trim('|'));
        return (cells[1], cells[2]);
    }

    [GeneratedRegex(@"\s\|\s")]
    private static partial Regex Cells();
}
