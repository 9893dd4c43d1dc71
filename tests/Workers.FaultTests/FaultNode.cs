using System.Diagnostics;
using System.Globalization;
using Workers.Testing;

namespace Workers.FaultTests;

/// <summary>
/// The fault suite's own RabbitMQ node (AMQP 5691, dist 25691), shared by every scenario through the collection:
/// each scenario gets its own vhost on it. Kills and restarts only ever hit this node, never the shared broker.
/// </summary>
public sealed class FaultNode : RabbitMqPrivateNode
{
    /// <summary>AMQP port of the node.</summary>
    public const int Port = 5691;

    public FaultNode()
        : base("fault1", Port, 25691)
    {
    }

    /// <summary>Creates a vhost with full permissions for guest; returns its AMQP URI on the node (or on <paramref name="port"/>).</summary>
    public async Task<Uri> AddVhostAsync(string name, int? port = null, CancellationToken cancellationToken = default)
    {
        await CtlAsync(["add_vhost", name], cancellationToken);
        await CtlAsync(["set_permissions", "-p", name, "guest", ".*", ".*", ".*"], cancellationToken);
        return VhostUri(name, port);
    }

    /// <summary>AMQP URI of a vhost, directly or through a proxy port.</summary>
    public static Uri VhostUri(string name, int? port = null) =>
        new($"amqp://guest:guest@127.0.0.1:{(port ?? Port).ToString(CultureInfo.InvariantCulture)}/{Uri.EscapeDataString(name)}");

    /// <summary>Deletes a vhost (best effort).</summary>
    public async Task DeleteVhostAsync(string name)
    {
        try
        {
            await CtlAsync(["delete_vhost", name], CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
        }
    }

    /// <summary>Kills the node's Erlang VM with SIGKILL (no clean shutdown) and waits until it is gone.</summary>
    public async Task KillAsync(CancellationToken cancellationToken = default)
    {
        var output = await CtlAsync(["eval", "os:getpid()."], cancellationToken);
        var pid = int.Parse(output.Trim().Trim('"'), CultureInfo.InvariantCulture);
        using var process = Process.GetProcessById(pid);
        process.Kill();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
    }

    /// <summary>Runs <c>rabbitmqctl -n node ...</c>; throws with the output on failure.</summary>
    public async Task<string> CtlAsync(string[] arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("rabbitmqctl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-n");
        info.ArgumentList.Add(NodeName);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("rabbitmqctl did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var output = await stdout + await stderr;
        return process.ExitCode == 0 ? await stdout : throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', arguments)} failed ({process.ExitCode}): {output}");
    }
}
