using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Workers.Hosting;
using Xunit;

namespace Workers.Hosting.Tests;

public sealed class WorkersHostApplicationBuilderExtensionsTests
{
    [Fact]
    public void AddWorkers_WithoutSetting_TurnsMassTransitUsageTelemetryOff()
    {
        using var provider = Build(setting: null);

        Assert.False(provider.GetRequiredService<IOptions<UsageTelemetryOptions>>().Value.Enabled);
    }

    [Fact]
    public void AddWorkers_WithOptIn_LeavesMassTransitUsageTelemetryOn()
    {
        using var provider = Build(setting: "true");

        Assert.True(provider.GetRequiredService<IOptions<UsageTelemetryOptions>>().Value.Enabled);
    }

    [Fact]
    public void AddWorkers_ChoosesNoExporter()
    {
        // The app chooses its exporters (Aspire's ServiceDefaults, UseOtlpExporter(), or WorkersFx.Exporters): the
        // Hosting package neither references an OpenTelemetry exporter nor registers one.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration[TelemetryOptions.OtlpEndpointVariable] = "http://127.0.0.1:4317";
        builder.AddWorkers(_ => { });

        Assert.DoesNotContain(typeof(WorkersOptions).Assembly.GetReferencedAssemblies(), a => a.Name!.StartsWith("OpenTelemetry.Exporter", StringComparison.Ordinal));
        Assert.DoesNotContain(builder.Services, d => (d.ImplementationType ?? d.ServiceType).Assembly.GetName().Name!.StartsWith("OpenTelemetry.Exporter", StringComparison.Ordinal));
    }

    private static ServiceProvider Build(string? setting)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Workers:RabbitMq:Uri"] = "amqp://guest:guest@localhost:5672/",
            ["Workers:MassTransitUsageTelemetry"] = setting,
        });
        builder.AddWorkers(_ => { });
        return builder.Services.BuildServiceProvider();
    }
}
