using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace Workers.Hosting.Tests.Bus;

/// <summary>
/// Issue 18, "plays with MassTransit": an application that calls AddMassTransit itself, consumer definitions, the
/// per-endpoint hook. Buses are built and probed, never started: no broker.
/// </summary>
public sealed class ExistingMassTransitTests
{
    private const string Broker = "amqp://guest:guest@localhost:5672/";

    private static readonly string[] WorkersStages = ["workersRedelivery", "workers-circuit-breaker", "workers-bulkhead", "workers-timeout"];

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ExistingMassTransit_DefinitionEndpoint_GetsWorkersStagesInOrder_HookThenDefinitionInside()
    {
        var builder = Builder();
        builder.Services.AddMassTransit(x =>
        {
            x.AddConsumer<PlacedConsumer, PlacedDefinition>();
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.UseWorkers(context);
                cfg.ConfigureEndpoints(context);
            });
        });
        builder.AddWorkers(w => w.UseExistingMassTransit().ConfigureEndpoint(PlacedDefinition.Queue, (e, _) => e.UseFilter(new NamedFilter("app-hook"))));
        await using var provider = builder.Services.BuildServiceProvider();

        var bus = provider.GetRequiredService<IBus>();
        Assert.Empty(ExistingBusCheck.Check(provider, provider.GetRequiredService<WorkersBuilder>(), provider.GetRequiredService<ExistingBusState>(), Options(provider)));
        var stages = PipelineProbe.Stages(bus, PlacedDefinition.Queue, Token);

        PipelineProbe.AssertOrder(stages, [.. WorkersStages, "app-hook", "definition-filter", "concurrencyLimit", "consumer:PlacedConsumer"]);
        // The definition's limit, configuration setting none.
        Assert.Equal(3, (int)PipelineProbe.Endpoint(bus, PlacedDefinition.Queue, Token)["receiveTransport"]!["concurrentMessageLimit"]!);
        Assert.Equal(["placed-orders"], provider.GetRequiredService<WorkerEndpointCatalog>().Queues);
    }

    [Fact]
    public async Task OwnPath_HookSitsInsideWorkersStages_AheadOfTheConsumer()
    {
        var builder = Builder();
        builder.AddWorkers(w => w
            .AddConsumer<PlainConsumer>("plain")
            .ConfigureEndpoint("plain", (e, _) => e.UseFilter(new NamedFilter("app-hook"))));
        await using var provider = builder.Services.BuildServiceProvider();

        var stages = PipelineProbe.Stages(provider.GetRequiredService<IBus>(), "plain", Token);

        PipelineProbe.AssertOrder(stages, [.. WorkersStages, "app-hook", "consumer:PlainConsumer"]);
    }

    [Fact]
    public async Task OwnPath_AddConsumerWithDefinition_QueueFromTheDefinition_ItsConfigureConsumerRuns_ItsLimitApplies()
    {
        var builder = Builder();
        builder.AddWorkers(w => w.AddConsumer<PlacedConsumer, PlacedDefinition>());
        await using var provider = builder.Services.BuildServiceProvider();

        var bus = provider.GetRequiredService<IBus>();
        var stages = PipelineProbe.Stages(bus, PlacedDefinition.Queue, Token);

        PipelineProbe.AssertOrder(stages, [.. WorkersStages, "definition-filter", "concurrencyLimit", "consumer:PlacedConsumer"]);
        Assert.Equal(3, (int)PipelineProbe.Endpoint(bus, PlacedDefinition.Queue, Token)["receiveTransport"]!["concurrentMessageLimit"]!);
        Assert.Equal(3, ConsumerLimit(bus, PlacedDefinition.Queue));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ConcurrentMessageLimit_ConfigurationWinsOverTheDefinition_OnTheEndpointAndTheConsumer(bool existing)
    {
        var builder = Builder();
        builder.Configuration[$"Workers:Endpoints:{PlacedDefinition.Queue}:ConcurrentMessageLimit"] = "7";
        if (existing)
        {
            AddApplicationBus(builder.Services);
            builder.AddWorkers(w => w.UseExistingMassTransit());
        }
        else
        {
            builder.AddWorkers(w => w.AddConsumer<PlacedConsumer, PlacedDefinition>());
        }

        await using var provider = builder.Services.BuildServiceProvider();
        var bus = provider.GetRequiredService<IBus>();

        Assert.Equal(7, (int)PipelineProbe.Endpoint(bus, PlacedDefinition.Queue, Token)["receiveTransport"]!["concurrentMessageLimit"]!);
        Assert.Equal(7, ConsumerLimit(bus, PlacedDefinition.Queue));
    }

    [Fact]
    public void OwnPath_AddConsumerWithDefinition_GivenQueueWins()
    {
        var builder = Builder();

        builder.AddWorkers(w => w.AddConsumer<PlacedConsumer, PlacedDefinition>("elsewhere"));

        Assert.Contains(builder.Services, d => d.ImplementationInstance is WorkerEndpointCatalog { Queues: ["elsewhere"] });
    }

    [Fact]
    public void OwnPath_ConfigureEndpointForAQueueWithoutConsumer_IsRefusedNamingTheEndpoints()
    {
        var builder = Builder();

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddWorkers(w => w
            .AddConsumer<PlainConsumer>("plain")
            .ConfigureEndpoint("plane", (_, _) => { })));

        Assert.Equal("ConfigureEndpoint names 'plane', which no consumer reads; the endpoints are: 'plain'.", error.Message);
    }

    [Fact]
    public async Task ExistingMassTransit_UnknownHookQueue_SeveralConsumersOnOneEndpoint_AndAMissingUseWorkers_AreAllReported()
    {
        var builder = Builder();
        builder.Services.AddMassTransit(x =>
        {
            x.AddConsumer<PlacedConsumer, PlacedDefinition>();
            x.AddConsumer<SharingConsumer, SharingDefinition>();
            x.AddConsumer<PlainConsumer>();
            x.UsingRabbitMq((context, cfg) => cfg.ConfigureEndpoints(context));
        });
        builder.AddWorkers(w => w.UseExistingMassTransit().ConfigureEndpoint("placed-order", (_, _) => { }));
        await using var provider = builder.Services.BuildServiceProvider();

        var errors = ExistingBusCheck.Check(provider, provider.GetRequiredService<WorkersBuilder>(), provider.GetRequiredService<ExistingBusState>(), Options(provider));

        Assert.Contains("call cfg.UseWorkers(context) in x.UsingRabbitMq((context, cfg) => ...), before cfg.ConfigureEndpoints(context).", errors);
        Assert.Contains("The endpoint 'placed-orders' has several consumers (PlacedConsumer, SharingConsumer): give each a queue of its own (its definition's EndpointName), so that one saturated consumer never holds another's messages.", errors);
        Assert.Contains("ConfigureEndpoint names 'placed-order', which no consumer reads; the endpoints are: 'placed-orders', 'Plain'.", errors);
        Assert.Equal(3, errors.Count);
    }

    [Fact]
    public async Task ExistingMassTransit_HostOtherThanWorkersUri_IsRefusedAtStart_WithoutCredentials()
    {
        var builder = Builder();
        builder.Services.AddMassTransit(x =>
        {
            x.AddConsumer<PlacedConsumer, PlacedDefinition>();
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.UseWorkers(context);
                cfg.Host("localhost", "other", h =>
                {
                    h.Username("app");
                    h.Password("s3cret");
                });
                cfg.ConfigureEndpoints(context);
            });
        });
        builder.AddWorkers(w => w.UseExistingMassTransit());
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync(Token));

        Assert.Contains("the bus connects to localhost:5672, virtual host 'other', but Workers:RabbitMq:Uri names localhost:5672, virtual host '/'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("guest", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExistingMassTransit_ConsumerOnAnEndpointConfiguredByHand_IsReported()
    {
        var builder = Builder();
        builder.Services.AddMassTransit(x =>
        {
            x.AddConsumer<PlacedConsumer, PlacedDefinition>();
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.UseWorkers(context);
                cfg.ReceiveEndpoint("by-hand", e => e.ConfigureConsumer<PlacedConsumer>(context));
                cfg.ConfigureEndpoints(context);
            });
        });
        builder.AddWorkers(w => w.UseExistingMassTransit());
        await using var provider = builder.Services.BuildServiceProvider();

        var errors = ExistingBusCheck.Check(provider, provider.GetRequiredService<WorkersBuilder>(), provider.GetRequiredService<ExistingBusState>(), Options(provider));

        Assert.Equal(["the consumer PlacedConsumer's endpoint 'placed-orders' was not created by cfg.ConfigureEndpoints(context) (configured by hand, or named by another endpoint name formatter): Workers' stages reach only the endpoints ConfigureEndpoints creates."], errors);
    }

    [Fact]
    public void ExistingMassTransit_MisuseIsRefusedWhenConfigured()
    {
        var without = Builder();
        var missing = Assert.Throws<InvalidOperationException>(() => without.AddWorkers(w => w.UseExistingMassTransit()));
        Assert.Contains("UseExistingMassTransit needs the application's services.AddMassTransit(...) first", missing.Message, StringComparison.Ordinal);

        var consumers = Builder();
        AddApplicationBus(consumers.Services);
        var added = Assert.Throws<InvalidOperationException>(() => consumers.AddWorkers(w => w.UseExistingMassTransit().AddConsumer<PlainConsumer>()));
        Assert.Contains("AddConsumer (PlainConsumer) with UseExistingMassTransit: register consumers in AddMassTransit", added.Message, StringComparison.Ordinal);

        var twice = Builder();
        AddApplicationBus(twice.Services);
        twice.AddWorkers(w => w.UseExistingMassTransit());
        var again = Assert.Throws<InvalidOperationException>(() => twice.AddWorkers(w => w.UseExistingMassTransit()));
        Assert.Contains("AddWorkers is called twice", again.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OwnPath_OnAnAppThatRegisteredMassTransit_IsRefusedSayingWhatToDo()
    {
        var builder = Builder();
        AddApplicationBus(builder.Services);

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddWorkers(w => w.AddConsumer<PlainConsumer>()));

        Assert.StartsWith("MassTransit is already registered (services.AddMassTransit): add w.UseExistingMassTransit()", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UseWorkers_WithoutUseExistingMassTransit_IsRefused()
    {
        var services = new ServiceCollection();
        AddApplicationBus(services);
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IBus>());

        Assert.Equal("cfg.UseWorkers(context) needs builder.AddWorkers(w => w.UseExistingMassTransit()).", error.Message);
    }

    [Fact]
    public void ExistingMassTransit_RegistersWorkersServicesOnce_HostedServicesInTheOwnPathsOrder()
    {
        var own = Builder();
        own.AddWorkers(w => w.AddConsumer<PlainConsumer>());
        var existing = Builder();
        AddApplicationBus(existing.Services);
        existing.AddWorkers(w => w.UseExistingMassTransit());

        var ownOrder = HostedServices(own.Services);
        var existingOrder = HostedServices(existing.Services);

        Assert.Equal(["BusLogContextBinder", "BrokerRequirementsHostedService", "DeliveryLimitPreflight", "DeadLetterQueuePreflight", "MassTransitHostedService", "ConsumerWatchdog", "FailureStoreIngester"], ownOrder);
        Assert.Equal(["BusLogContextBinder", "ExistingBusCheck", .. ownOrder.Skip(1)], existingOrder);
        Assert.Single(existing.Services, d => d.ServiceType == typeof(IBus));
        Assert.Single(existing.Services, d => d.ServiceType == typeof(IConfigureReceiveEndpoint));
        Assert.Single(existing.Services, d => d.ServiceType == typeof(WorkerEndpointCatalog));
        Assert.Single(existing.Services, d => d.ServiceType == typeof(Workers.Resilience.Broker.RedeliveryConnection));
        Assert.Equal(
            own.Services.Count(d => d.ServiceType == typeof(Microsoft.Extensions.Options.IConfigureOptions<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckServiceOptions>)),
            existing.Services.Count(d => d.ServiceType == typeof(Microsoft.Extensions.Options.IConfigureOptions<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckServiceOptions>)));
    }

    private static List<string> HostedServices(IServiceCollection services) =>
        [.. services.Where(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType?.Assembly.GetName().Name is { } name && (name.StartsWith("Workers", StringComparison.Ordinal) || name == "MassTransit"))
            .Select(d => d.ImplementationType!.Name)];

    private static HostApplicationBuilder Builder()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Workers:RabbitMq:Uri"] = Broker,
            ["Workers:Defaults:CircuitBreaker:FailureRatio"] = "0.5",
            ["Workers:Defaults:Bulkhead:PermitLimit"] = "4",
            ["Workers:Defaults:Timeout:Timeout"] = "00:00:10",
        });
        return builder;
    }

    private static void AddApplicationBus(IServiceCollection services) =>
        services.AddMassTransit(x =>
        {
            x.AddConsumer<PlacedConsumer, PlacedDefinition>();
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.UseWorkers(context);
                cfg.ConfigureEndpoints(context);
            });
        });

    private static WorkersOptions Options(IServiceProvider provider) =>
        provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<WorkersOptions>>().Value;

    // The consumer-level limit MassTransit adds for ConsumerDefinition.ConcurrentMessageLimit (a concurrencyLimit filter).
    private static int ConsumerLimit(IBus bus, string queue)
    {
        var json = PipelineProbe.Endpoint(bus, queue, Token).ToJsonString();
        var at = json.IndexOf("\"filterType\":\"concurrencyLimit\",\"limit\":", StringComparison.Ordinal);
        Assert.True(at >= 0, json);
        var digits = json[(at + "\"filterType\":\"concurrencyLimit\",\"limit\":".Length)..].TakeWhile(char.IsDigit);
        return int.Parse(string.Concat(digits), System.Globalization.CultureInfo.InvariantCulture);
    }
}

public sealed record OrderPlaced(Guid Id);

public sealed class PlacedConsumer : IConsumer<OrderPlaced>
{
    public Task Consume(ConsumeContext<OrderPlaced> context) => Task.CompletedTask;
}

public sealed class SharingConsumer : IConsumer<OrderPlaced>
{
    public Task Consume(ConsumeContext<OrderPlaced> context) => Task.CompletedTask;
}

public sealed record Plain(int N);

public sealed class PlainConsumer : IConsumer<Plain>
{
    public Task Consume(ConsumeContext<Plain> context) => Task.CompletedTask;
}

public sealed class PlacedDefinition : ConsumerDefinition<PlacedConsumer>
{
    public const string Queue = "placed-orders";

    public PlacedDefinition()
    {
        EndpointName = Queue;
        ConcurrentMessageLimit = 3;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<PlacedConsumer> consumerConfigurator, IRegistrationContext context) =>
        endpointConfigurator.UseFilter(new NamedFilter("definition-filter"));
}

public sealed class SharingDefinition : ConsumerDefinition<SharingConsumer>
{
    public SharingDefinition()
    {
        EndpointName = PlacedDefinition.Queue;
    }
}
