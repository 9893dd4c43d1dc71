using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Workers.Postgres")]
[assembly: InternalsVisibleTo("Workers.Hosting")]
[assembly: InternalsVisibleTo("Workers.Cli")]
[assembly: InternalsVisibleTo("Workers.Resilience.Tests")]
[assembly: InternalsVisibleTo("Workers.Hosting.Tests")]
[assembly: InternalsVisibleTo("Workers.IntegrationTests")]
[assembly: InternalsVisibleTo("Workers.Benchmarks")]
