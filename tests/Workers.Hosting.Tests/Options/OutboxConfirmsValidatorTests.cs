using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Workers.Hosting;
using Workers.Postgres;
using Xunit;

namespace Workers.Hosting.Tests.Options;

public sealed class OutboxConfirmsValidatorTests
{
    [Theory]
    [InlineData(true, true, false)]
    [InlineData(true, false, true)]
    [InlineData(false, false, false)]
    [InlineData(false, true, false)]
    public void Check_RefusesOnlyADispatcherWithoutConfirms(bool dispatcher, bool confirms, bool refused) =>
        Assert.Equal(refused, OutboxConfirmsValidator.Check(dispatcher, confirms) is not null);

    [Fact]
    public async Task HostWithOutboxAndConfirmsOff_RefusesToStart_NamingTheSetting()
    {
        using var host = Build(new Dictionary<string, string?> { ["Workers:RabbitMq:PublisherConfirmation"] = "false" });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("Workers:RabbitMq:PublisherConfirmation is false", error.Message, StringComparison.Ordinal);
        Assert.Contains("Workers:Outbox:EnableDispatcher", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConfirmsOffWithoutDispatcher_IsValid()
    {
        using var host = Build(new Dictionary<string, string?>
        {
            ["Workers:RabbitMq:PublisherConfirmation"] = "false",
            ["Workers:Outbox:EnableDispatcher"] = "false",
        });

        Assert.False(host.Services.GetRequiredService<IOptions<OutboxOptions>>().Value.EnableDispatcher);
    }

    private static IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        settings["Workers:RabbitMq:Uri"] = "amqp://guest:guest@127.0.0.1:1/";
        settings["Workers:Postgres:ConnectionString"] = "Host=127.0.0.1;Port=1;Username=unused";
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddWorkers(w => w.UsePostgres<ConfirmsDb>());
        return builder.Build();
    }

    private sealed class ConfirmsDb(DbContextOptions<ConfirmsDb> options) : DbContext(options)
    {
        protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.AddWorkersOutbox();
    }
}
