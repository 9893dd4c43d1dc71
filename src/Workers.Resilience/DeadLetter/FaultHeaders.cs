using System.Globalization;

namespace Workers.Resilience.DeadLetter;

/// <summary>The fault headers of a dead-lettered message (both MT-* and Workers-*). Pure.</summary>
internal static class FaultHeaders
{
    /// <summary>Incoming headers that the framework's own delivery adds and that must not travel on.</summary>
    public static bool IsTransient(string key) =>
        key is "x-death" or "x-first-death-exchange" or "x-first-death-queue" or "x-first-death-reason"
            or "x-last-death-exchange" or "x-last-death-queue" or "x-last-death-reason" or WorkersHeaders.Destination;

    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    /// <summary>Writes the fault headers into <paramref name="headers"/> (existing fault headers are replaced).</summary>
    public static void Write(IDictionary<string, object?> headers, in FaultDetails fault, DeadLetterOptions options)
    {
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(options);
        foreach (var key in headers.Keys.Where(k => k.StartsWith("MT-Fault-", StringComparison.Ordinal) || k.StartsWith("Workers-Fault-", StringComparison.Ordinal)).ToList())
        {
            headers.Remove(key);
        }

        var exception = fault.Exception;
        var max = options.MaxHeaderLength;
        var lastFailure = FormatTime(fault.LastFailure);
        headers[WorkersHeaders.Reason] = "fault";
        headers[WorkersHeaders.FaultExceptionType] = Cut(exception.GetType().FullName ?? exception.GetType().Name, max);
        headers[WorkersHeaders.FaultMessage] = Cut(exception.Message, max);
        if (options.IncludeStackTrace)
        {
            headers[WorkersHeaders.FaultStackTrace] = Cut(exception.StackTrace ?? string.Empty, max);
        }

        headers[WorkersHeaders.FaultTimestamp] = lastFailure;
        headers[WorkersHeaders.FaultConsumerType] = Cut(fault.Consumer, max);
        if (fault.MessageType is not null)
        {
            headers[WorkersHeaders.FaultMessageType] = Cut(fault.MessageType, max);
        }

        if (fault.InputAddress is not null)
        {
            headers[WorkersHeaders.FaultInputAddress] = fault.InputAddress;
        }

        headers[WorkersHeaders.HostMachineName] = fault.MachineName;
        headers[WorkersHeaders.FaultAttempts] = fault.Attempts;
        headers[WorkersHeaders.FaultQueue] = fault.Queue;
        headers[WorkersHeaders.FaultFirstFailure] = FormatTime(fault.FirstFailure);
        headers[WorkersHeaders.FaultLastFailure] = lastFailure;
        headers[WorkersHeaders.FaultHost] = fault.Host;
        if (fault.HostVersion is not null)
        {
            headers[WorkersHeaders.FaultHostVersion] = Cut(fault.HostVersion, max);
        }

        headers[WorkersHeaders.FaultConsumer] = Cut(fault.Consumer, max);
        headers[WorkersHeaders.FaultDisposition] = fault.Reason;
    }

    /// <summary>The running application's version: the entry assembly's informational version (without a build-metadata suffix), else its version.</summary>
    public static string? ApplicationVersion()
    {
        var entry = System.Reflection.Assembly.GetEntryAssembly();
        var informational = entry is null ? null : System.Reflection.CustomAttributeExtensions.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>(entry)?.InformationalVersion;
        if (informational is not null)
        {
            var plus = informational.IndexOf('+', StringComparison.Ordinal);
            return plus > 0 ? informational[..plus] : informational;
        }

        return entry?.GetName().Version?.ToString();
    }

    internal static string Cut(string value, int max) => value.Length <= max ? value : value[..max];
}

/// <summary>The facts of one dead-lettering.</summary>
internal readonly record struct FaultDetails(
    Exception Exception,
    string Reason,
    int Attempts,
    string Queue,
    string Consumer,
    string? MessageType,
    string? InputAddress,
    DateTimeOffset FirstFailure,
    DateTimeOffset LastFailure,
    string MachineName,
    string Host,
    string? HostVersion = null);
