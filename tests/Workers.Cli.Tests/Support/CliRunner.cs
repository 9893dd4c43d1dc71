using System.Diagnostics;

namespace Workers.Cli.Tests.Support;

/// <summary>Runs the <c>workers</c> command in-process (captured writers) or as the built executable in a child process.</summary>
internal static class CliRunner
{
    public static Task<CliResult> RunAsync(string[] args, string? standardInput = null, CancellationToken cancellationToken = default) =>
        RunAsync(args, standardInput, _ => null, cancellationToken);

    public static async Task<CliResult> RunAsync(string[] args, string? standardInput, Func<string, string?> environment, CancellationToken cancellationToken = default)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var input = new StringReader(standardInput ?? string.Empty);
        var console = new CliConsole(output, error, input, inputRedirected: standardInput is not null, interactive: false)
        {
            Environment = environment,
        };
        var exitCode = await CliApp.RunAsync(args, console, cancellationToken);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>The built <c>workers</c> entry assembly (next to the tests, copied from the referenced project).</summary>
    public static string ExecutablePath
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "workers.dll");
            if (!File.Exists(path) || !File.Exists(Path.Combine(AppContext.BaseDirectory, "workers.runtimeconfig.json")))
            {
                throw new FileNotFoundException("The built workers executable is not next to the tests.", path);
            }

            return path;
        }
    }

    /// <summary>Starts the built executable as a child process (stdout/stderr captured).</summary>
    public static Process Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ExecutablePath);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("WORKERS_RABBITMQ_URI");
        start.Environment.Remove("WORKERS_RABBITMQ_MANAGEMENT_URI");
        start.Environment.Remove("WORKERS_POSTGRES");
        return Process.Start(start) ?? throw new InvalidOperationException("could not start the workers executable");
    }

    public static async Task<CliResult> RunProcessAsync(string[] args, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var process = Start(args);
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"workers {string.Join(' ', args)} did not exit within {timeout}");
        }

        return new CliResult(process.ExitCode, await output, await error);
    }
}

/// <summary>What a run of the command produced.</summary>
internal sealed record CliResult(int ExitCode, string Output, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Output}\n--- stderr ---\n{Error}";

    /// <summary>Standard error is exactly one line starting with <c>error:</c>.</summary>
    public bool HasOneLineError => Error.StartsWith("error: ", StringComparison.Ordinal) && Error.TrimEnd().Split('\n').Length == 1;
}
