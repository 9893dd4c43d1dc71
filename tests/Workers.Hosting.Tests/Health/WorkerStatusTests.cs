using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Workers.Hosting;
using Xunit;

namespace Workers.Hosting.Tests.Health;

public sealed class WorkerStatusTests
{
    [Fact]
    public async Task OutboxSection_ShowsQuarantinedAndHeldRows()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddHealthChecks().AddCheck("workers-outbox", () => HealthCheckResult.Healthy(
            "4 pending",
            new Dictionary<string, object> { ["pending"] = 4L, ["lag_seconds"] = 0.5, ["quarantined"] = 2L, ["held"] = 3L }));
        await using var provider = services.BuildServiceProvider();
        var http = new DefaultHttpContext { RequestServices = provider };
        http.Response.Body = new MemoryStream();

        var result = await WorkerStatus.GetAsync(http);
        await result.ExecuteAsync(http);

        http.Response.Body.Position = 0;
        using var document = await JsonDocument.ParseAsync(http.Response.Body, cancellationToken: TestContext.Current.CancellationToken);
        var outbox = document.RootElement.GetProperty("outbox");
        Assert.Equal(4, outbox.GetProperty("pending").GetInt64());
        Assert.Equal(2, outbox.GetProperty("quarantined").GetInt64());
        Assert.Equal(3, outbox.GetProperty("held").GetInt64());
    }
}
