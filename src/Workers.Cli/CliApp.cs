using System.CommandLine;
using System.Net.Sockets;
using Npgsql;
using RabbitMQ.Client.Exceptions;
using Workers.Cli.DeadLetters;
using Workers.Cli.Migrate;
using Workers.Cli.Publish;
using Workers.Cli.Status;

namespace Workers.Cli;

/// <summary>
/// The <c>workers</c> command: builds the command tree and runs it, turning every failure into one line on
/// standard error and an exit code (0 ok, 1 failure, 2 usage error).
/// </summary>
internal static class CliApp
{
    public static RootCommand BuildRootCommand(CliConsole console)
    {
        var connections = new ConnectionSettings();
        var root = new RootCommand("Operate Workers endpoints: publish messages, inspect and replay dead letters, see endpoint state, migrate the database.");
        connections.AddTo(root);
        root.Subcommands.Add(PublishCommand.Create(console, connections));
        root.Subcommands.Add(DeadLetterCommands.Create(console, connections));
        root.Subcommands.Add(StatusCommand.Create(console, connections));
        root.Subcommands.Add(MigrateCommand.Create(console, connections));
        return root;
    }

    public static async Task<int> RunAsync(string[] args, CliConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(console);
        var root = BuildRootCommand(console);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            var messages = string.Join("; ", parse.Errors.Select(e => e.Message));
            var path = new List<string>();
            for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
            {
                if (result.Command is not RootCommand)
                {
                    path.Insert(0, result.Command.Name);
                }
            }

            await console.Error.WriteLineAsync(console.Redact($"error: {messages} (see 'workers {string.Join(' ', path.Append("--help"))}')"));
            return ExitCodes.Usage;
        }

        var invocation = new InvocationConfiguration { Output = console.Out, Error = console.Error, EnableDefaultExceptionHandler = false };
        try
        {
            return await parse.InvokeAsync(invocation, cancellationToken);
        }
        catch (Exception exception)
        {
            var (message, code) = Describe(exception, cancellationToken);
            await console.Error.WriteLineAsync(console.Redact("error: " + OneLine(message)));
            return code;
        }
    }

    internal static (string Message, int ExitCode) Describe(Exception exception, CancellationToken cancellationToken) => exception switch
    {
        CliException cli => (cli.Message, cli.ExitCode),
        OperationCanceledException when cancellationToken.IsCancellationRequested => ("cancelled; messages not yet moved stay where they were.", ExitCodes.Failure),
        BrokerUnreachableException unreachable when IsAuthentication(unreachable) => ("the broker refused the credentials (check the user name and password in --rabbitmq).", ExitCodes.Failure),
        BrokerUnreachableException unreachable => ($"cannot reach the broker: {Innermost(unreachable).Message}", ExitCodes.Failure),
        AuthenticationFailureException => ("the broker refused the credentials (check the user name and password in --rabbitmq).", ExitCodes.Failure),
        OperationInterruptedException interrupted => ($"the broker closed the connection: {interrupted.ShutdownReason?.ReplyText ?? interrupted.Message}", ExitCodes.Failure),
        NpgsqlException => ($"PostgreSQL: {exception.Message}", ExitCodes.Failure),
        HttpRequestException http => ($"management API: {http.Message}", ExitCodes.Failure),
        SocketException socket => ($"network: {socket.Message}", ExitCodes.Failure),
        IOException io => (io.Message, ExitCodes.Failure),
        UnauthorizedAccessException access => (access.Message, ExitCodes.Failure),
        _ => ($"unexpected {exception.GetType().Name}: {exception.Message}", ExitCodes.Failure),
    };

    private static bool IsAuthentication(Exception exception)
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            if (current is AuthenticationFailureException or PossibleAuthenticationFailureException
                || current.Message.Contains("ACCESS_REFUSED", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static Exception Innermost(Exception exception)
    {
        var current = exception;
        while (current.InnerException is not null)
        {
            current = current.InnerException;
        }

        return current;
    }

    private static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
