using Fresh;
using Microsoft.Extensions.Hosting;
using Workers.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.AddWorkers(workers => workers
    .UsePostgres<FreshDb>()
    .AddConsumer<PingConsumer>("fresh-ping")
    .AddConsumer<PongConsumer>("fresh-pong"));
await builder.Build().RunAsync();
