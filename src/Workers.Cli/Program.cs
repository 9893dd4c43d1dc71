using Workers.Cli;

return await CliApp.RunAsync(args, CliConsole.FromSystemConsole(), CancellationToken.None);
