using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Workers.Cli.Tests")]
