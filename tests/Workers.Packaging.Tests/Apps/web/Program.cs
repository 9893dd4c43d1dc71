using Fresh;
using MassTransit;
using Workers.Exporters;
using Workers.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddWorkers(workers => workers.AddConsumer<WebPingConsumer>("fresh-web-ping"));
builder.AddWorkersExporters();
var app = builder.Build();
app.MapWorkersEndpoints();
app.MapWorkersMetrics();
await app.RunAsync();

namespace Fresh
{
    public sealed record Ping(Guid Id, string Text);

    public sealed class WebPingConsumer(ILogger<WebPingConsumer> logger) : IConsumer<Ping>
    {
        public Task Consume(ConsumeContext<Ping> context)
        {
            logger.LogInformation("Ping {Id} consumed by the web worker", context.Message.Id);
            return Task.CompletedTask;
        }
    }
}
