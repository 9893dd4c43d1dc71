using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Workers.Testing;

/// <summary>
/// A worker as a real child process (<c>dotnet Workers.Sample.dll</c>), configured by environment variables the
/// way a container is: start it, read its output, find its HTTP address, send it SIGTERM or SIGKILL.
/// </summary>
public sealed partial class WorkerProcess : IAsyncDisposable
{
    private const int SigKill = 9;
    private const int SigTerm = 15;
    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly TaskCompletionSource<Uri> listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool traced;

    private WorkerProcess(Process process)
    {
        this.process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Everything the process printed so far.</summary>
    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    /// <summary>The process id.</summary>
    public int Id => process.Id;

    /// <summary>Whether the process has exited.</summary>
    public bool HasExited => process.HasExited;

    /// <summary>Path of a project's built assembly under src/, in the same configuration as the running tests.</summary>
    public static string ProjectAssembly(string project)
    {
        var root = RepositoryRoot();
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var path = Path.Combine(root, "src", project, "bin", configuration, "net10.0", project + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"Build {project} first ({configuration}): {path} is missing.", path);
    }

    /// <summary>The folder that holds Workers.sln.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Workers.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Workers.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>
    /// Starts <c>dotnet <paramref name="assembly"/> <paramref name="arguments"/></c> with exactly the given
    /// environment on top of a clean one (no inherited WORKERS_* / ASPNETCORE_* variables).
    /// </summary>
    public static WorkerProcess Start(string assembly, IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        Start(assembly, environment, null, arguments);

    /// <summary>
    /// As <see cref="Start(string, IReadOnlyDictionary{string, string}, string[])"/>, under <c>strace -f</c>: every
    /// <c>connect()</c> of the worker and its threads is written to <paramref name="connectTrace"/> (signals go to the
    /// worker itself, not to strace).
    /// </summary>
    public static WorkerProcess StartTracingConnects(string assembly, IReadOnlyDictionary<string, string> environment, string connectTrace) =>
        Start(assembly, environment, connectTrace, []);

    private static WorkerProcess Start(string assembly, IReadOnlyDictionary<string, string> environment, string? connectTrace, string[] arguments)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var info = new ProcessStartInfo(connectTrace is null ? "dotnet" : "strace")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(assembly)!,
        };
        if (connectTrace is not null)
        {
            foreach (var option in (string[])["-f", "-qq", "-e", "trace=connect", "-e", "signal=none", "-o", connectTrace, "dotnet"])
            {
                info.ArgumentList.Add(option);
            }
        }

        info.ArgumentList.Add(assembly);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("WORKERS", StringComparison.OrdinalIgnoreCase) || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || k.StartsWith("Workers__", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(key);
        }

        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["Logging__Console__FormatterName"] = "simple";
        info.Environment["Logging__Console__FormatterOptions__SingleLine"] = "true";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        return new WorkerProcess(Process.Start(info) ?? throw new InvalidOperationException($"{info.FileName} did not start")) { traced = connectTrace is not null };
    }

    /// <summary>The HTTP address from the "Now listening on:" line (start it with <c>Urls=http://127.0.0.1:0</c>).</summary>
    public async Task<Uri> WaitForListeningAsync(TimeSpan timeout)
    {
        var done = await Task.WhenAny(listening.Task, Task.Delay(timeout), process.WaitForExitAsync());
        if (done != listening.Task)
        {
            throw new TimeoutException($"The worker did not report its HTTP address within {timeout} (exited: {process.HasExited}). Output:\n{Output}");
        }

        return await listening.Task;
    }

    /// <summary>Waits (bounded) until the output contains <paramref name="text"/>.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (deadline.Elapsed > timeout || process.HasExited)
            {
                throw new TimeoutException($"The worker did not print '{text}' within {timeout} (exited: {process.HasExited}). Output:\n{Output}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Sends SIGTERM: a graceful stop.</summary>
    public void Terminate() => Signal(SigTerm);

    /// <summary>Sends SIGKILL: the process dies at once, mid-whatever.</summary>
    public void Kill() => Signal(SigKill);

    /// <summary>Waits (bounded) for the process to exit; returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The worker did not exit within {timeout}. Output:\n{Output}");
        }

        return process.ExitCode;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            Kill();
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }

    private void Signal(int signal)
    {
        var target = traced ? TracedWorker() : process.Id;
        if (kill(target, signal) != 0)
        {
            throw new InvalidOperationException($"kill({target}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    // Under strace the worker is strace's one child; once it has exited, strace itself.
    private int TracedWorker()
    {
        var children = Path.Combine("/proc", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "task", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "children");
        var text = File.Exists(children) ? File.ReadAllText(children).Trim() : string.Empty;
        return text.Length > 0 ? int.Parse(text.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) : process.Id;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }

        if (ListeningLine().Match(line) is { Success: true } match)
        {
            listening.TrySetResult(new Uri(match.Groups[1].Value));
        }
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningLine();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
