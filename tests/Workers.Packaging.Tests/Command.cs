using System.Diagnostics;
using System.Text;

namespace Workers.Packaging.Tests;

/// <summary>
/// A command the way a user types it (<c>dotnet build</c>, <c>dotnet tool install</c>, <c>workers …</c>), run to
/// completion with a bound. The environment is the machine's minus what the test run itself set (MSBuild's and the
/// test platform's variables, WORKERS_*), so the fresh apps build as they would in a user's shell.
/// </summary>
internal static class Command
{
    /// <summary>The result of a finished command.</summary>
    internal sealed record Result(int ExitCode, string Output, TimeSpan Elapsed);

    /// <summary>Runs <paramref name="file"/> with <paramref name="arguments"/> in <paramref name="directory"/>; throws <see cref="TimeoutException"/> (after killing it) past <paramref name="timeout"/>.</summary>
    public static async Task<Result> RunAsync(string file, IEnumerable<string> arguments, string directory, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var key in info.Environment.Keys.Where(Inherited).ToList())
        {
            info.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var output = new StringBuilder();
        var clock = Stopwatch.StartNew();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var bound = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{file} {string.Join(' ', info.ArgumentList)}' did not finish within {timeout}. Output:\n{Text(output)}");
        }

        return new Result(process.ExitCode, Text(output), clock.Elapsed);
    }

    /// <summary>Throws with the command's output unless it exited 0.</summary>
    public static Result Succeeded(this Result result, string what) =>
        result.ExitCode == 0 ? result : throw new InvalidOperationException($"{what} failed (exit {result.ExitCode}):\n{result.Output}");

    // Variables of the test run that would leak into the user's commands: MSBuild's (dotnet test runs inside it),
    // the test platform's, and the framework's own connection settings (each command gets its own explicitly).
    private static bool Inherited(string key) =>
        key.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)
        || key.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)
        || key.StartsWith("TESTINGPLATFORM", StringComparison.OrdinalIgnoreCase)
        || key.StartsWith("WORKERS", StringComparison.OrdinalIgnoreCase)
        || key.StartsWith("Workers__", StringComparison.Ordinal)
        || key.StartsWith("ASPNETCORE_", StringComparison.Ordinal)
        || key is "NUGET_PACKAGES" or "DOTNET_HOST_PATH" or "MSBuildExtensionsPath" or "MSBuildSDKsPath";

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }

    private static string Text(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }
}
