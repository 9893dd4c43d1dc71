using Microsoft.Extensions.Hosting;
using Workers.Sample;
using Workers.Sample.Demo;

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddSample();

if (args.Contains("--demo"))
{
    return await DemoRunner.RunAsync(builder, args);
}

await builder.Build().RunAsync();
return 0;
