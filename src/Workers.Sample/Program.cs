using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Workers.Exporters;
using Workers.Hosting;
using Workers.Sample;
using Workers.Sample.Demo;

if (args.Contains("--demo"))
{
    var demo = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
    return await DemoRunner.RunAsync(demo.AddSample(), args);
}

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddSample();
var app = builder.Build();
app.MapWorkersEndpoints();
app.MapWorkersMetrics();
await app.RunAsync();
return 0;
