using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Deploy;

/// <summary>
/// compose/healthcheck.sh, the worker image's HEALTHCHECK (the aspnet base image has no curl or wget), run with
/// bash against a real local HTTP listener: healthy only on HTTP 200, bounded when the process hangs.
/// </summary>
public sealed class HealthcheckScriptTests
{
    private static readonly string Script = Path.Combine(LocalRabbitMqCluster.FindRepositoryRoot(), "compose", "healthcheck.sh");

    [Fact]
    public async Task LiveEndpointAnswering200_IsHealthy_OtherStatusesAndPathsAreNot()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var requests = new List<string>();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var server = ServeAsync(listener, path => path == "/health/live" ? "200 OK" : "503 Service Unavailable", requests, cts.Token);

        Assert.Equal(0, await ProbeAsync(port));
        Assert.NotEqual(0, await ProbeAsync(port, "/health/ready"));
        await cts.CancelAsync();
        listener.Stop();
        await server;

        Assert.Equal(["GET /health/live HTTP/1.0", "GET /health/ready HTTP/1.0"], requests);
        Assert.NotEqual(0, await ProbeAsync(port)); // nothing listens any more: connection refused.
    }

    [Fact]
    public async Task HungProcess_IsUnhealthy_WithinTheProbeTimeout()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(); // accepts connections (the kernel's backlog) but never answers.
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var clock = Stopwatch.StartNew();
        var exit = await ProbeAsync(port, timeoutSeconds: 1);

        Assert.NotEqual(0, exit);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the probe must give up after its timeout (took {clock.Elapsed})");
    }

    private static async Task<int> ProbeAsync(int port, string? path = null, int timeoutSeconds = 4)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(Script);
        if (path is not null)
        {
            start.ArgumentList.Add(path);
        }

        start.Environment["ASPNETCORE_HTTP_PORTS"] = port.ToString(CultureInfo.InvariantCulture);
        start.Environment["WORKERS_HEALTHCHECK_TIMEOUT"] = timeoutSeconds.ToString(CultureInfo.InvariantCulture);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(bound.Token);
        await Task.WhenAll(output, error);
        return process.ExitCode;
    }

    // A minimal HTTP server: answers each request with the status chosen for its path, then closes.
    private static async Task ServeAsync(TcpListener listener, Func<string, string> status, List<string> requests, CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(cancellationToken);
                await using var stream = client.GetStream();
                using var reader = new StreamReader(stream);
                var requestLine = await reader.ReadLineAsync(cancellationToken) ?? string.Empty;
                while (!string.IsNullOrEmpty(await reader.ReadLineAsync(cancellationToken)))
                {
                    // headers
                }

                requests.Add(requestLine);
                var path = requestLine.Split(' ').ElementAtOrDefault(1) ?? string.Empty;
                var response = $"HTTP/1.1 {status(path)}\r\nContent-Length: 7\r\nConnection: close\r\n\r\nHealthy";
                await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(response), cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // stopped
        }
        catch (ObjectDisposedException)
        {
            // stopped
        }
    }
}
