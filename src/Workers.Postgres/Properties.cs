using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Workers.Postgres.Tests")]
[assembly: InternalsVisibleTo("Workers.Hosting")]
[assembly: InternalsVisibleTo("Workers.Cli")]
[assembly: InternalsVisibleTo("Workers.IntegrationTests")]
[assembly: InternalsVisibleTo("Workers.FaultTests")]
[assembly: InternalsVisibleTo("Workers.Benchmarks")]
