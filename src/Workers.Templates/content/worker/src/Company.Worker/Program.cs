using Company.Worker.Orders;
using Workers.Hosting;

var builder = WebApplication.CreateBuilder(args);

// The Workers section of appsettings.json (and WORKERS_RABBITMQ_URI) configures the broker and each endpoint; every
// option is validated at start, all errors at once.
builder.AddWorkers(workers => workers.AddConsumer<SubmitOrderConsumer>("submit-order"));

var app = builder.Build();

// /health/live, /health/ready, /health/startup and /workers/status.
app.MapWorkersEndpoints();
await app.RunAsync();
