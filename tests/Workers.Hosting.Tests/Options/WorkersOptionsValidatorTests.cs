using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Workers.Hosting;
using Xunit;

namespace Workers.Hosting.Tests.Options;

public sealed class WorkersOptionsValidatorTests
{
    [Fact]
    public void Defaults_AreValid()
    {
        Assert.Empty(WorkersOptionsValidator.Collect(new WorkersOptions()));
    }

    [Fact]
    public void EveryInvalidOption_IsNamedWithItsPath_InOneResult()
    {
        var options = new WorkersOptions { ShutdownTimeout = TimeSpan.Zero };
        options.RabbitMq.Uri = "http://example.com/";
        options.RabbitMq.PrefetchCount = 0;
        options.RabbitMq.ClusterNodes.Add("node-without-port");
        options.RabbitMq.ManagementUri = "amqp://guest:secret@host:15672/";
        options.Endpoints["orders"] = new EndpointOptions { PrefetchCount = 70_000, ConcurrentMessageLimit = 0 };
        options.Endpoints["orders_error"] = new EndpointOptions();
        options.Endpoints["quorum"] = new EndpointOptions { QueueType = (QueueType)7 };
        options.Telemetry.MassTransitFaultLogLevel = (Microsoft.Extensions.Logging.LogLevel)42;

        var result = new WorkersOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        var text = result.FailureMessage;
        Assert.Contains("Workers:ShutdownTimeout", text, StringComparison.Ordinal);
        Assert.Contains("Workers:Telemetry:MassTransitFaultLogLevel must be one of Trace, Debug, Information, Warning, Error, Critical, None (was 42)", text, StringComparison.Ordinal);
        Assert.Contains("Workers:RabbitMq:Uri must use the amqp:// or amqps:// scheme", text, StringComparison.Ordinal);
        Assert.Contains("Workers:RabbitMq:PrefetchCount", text, StringComparison.Ordinal);
        Assert.Contains("Workers:RabbitMq:ClusterNodes:0", text, StringComparison.Ordinal);
        Assert.Contains("Workers:RabbitMq:ManagementUri must be an absolute http:// or https:// URI", text, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", text, StringComparison.Ordinal);
        Assert.Contains("Workers:Endpoints:orders:PrefetchCount", text, StringComparison.Ordinal);
        Assert.Contains("Workers:Endpoints:orders:ConcurrentMessageLimit", text, StringComparison.Ordinal);
        Assert.Contains("Workers:Endpoints:orders_error is not a valid endpoint name", text, StringComparison.Ordinal);
        Assert.Contains("Workers:Endpoints:quorum:QueueType", text, StringComparison.Ordinal);
        Assert.Equal(10, result.Failures!.Count());
    }

    [Fact]
    public void ConsumerWatchdogOutOfRange_BothErrorsReported()
    {
        var options = new WorkersOptions();
        options.ConsumerWatchdog.Interval = TimeSpan.FromMilliseconds(10);
        options.ConsumerWatchdog.StallTimeout = TimeSpan.FromHours(2);

        var errors = WorkersOptionsValidator.Collect(options);

        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Workers:ConsumerWatchdog:Interval must be between 00:00:01 and 00:10:00", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Workers:ConsumerWatchdog:StallTimeout must be between 00:00:01 and 01:00:00", StringComparison.Ordinal));
    }

    [Fact]
    public void FailureStoreOutOfRange_EveryErrorReported()
    {
        var options = new WorkersOptions();
        options.FailureStore.Enabled = true;
        options.FailureStore.BatchSize = 0;
        options.FailureStore.RetryDelay = TimeSpan.FromHours(1);
        options.FailureStore.Schema = " ";

        var errors = WorkersOptionsValidator.Collect(options);

        Assert.Equal(
            [
                "Workers:FailureStore:BatchSize must be between 1 and 10000 (was 0).",
                "Workers:FailureStore:RetryDelay must be between 00:00:01 and 00:10:00 (was 01:00:00).",
                "Workers:FailureStore:Schema must not be blank (leave it unset for public).",
            ],
            errors);
        Assert.Empty(WorkersOptionsValidator.Collect(new WorkersOptions { FailureStore = new FailureStoreOptions { Enabled = true } }));
    }

    [Fact]
    public void ConcurrencyAbovePrefetch_IsRejected()
    {
        var options = new WorkersOptions();
        options.Endpoints["orders"] = new EndpointOptions { PrefetchCount = 4, ConcurrentMessageLimit = 8 };

        var errors = WorkersOptionsValidator.Collect(options);

        var error = Assert.Single(errors);
        Assert.Contains("between 1 and the prefetch count 4 (was 8)", error, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedUri_ErrorNeverShowsThePassword()
    {
        var options = new WorkersOptions();
        options.RabbitMq.Uri = "ftp://admin:s3cret-pass@broker/";

        var errors = string.Join('\n', WorkersOptionsValidator.Collect(options));

        Assert.Contains("Workers:RabbitMq:Uri", errors, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pass", errors, StringComparison.Ordinal);
    }

    [Fact]
    public void BoundFromConfiguration_EnvironmentUriWins_AndBadValuesFailAtStart()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Workers:RabbitMq:Uri"] = "amqp://guest:guest@config-host:5672/",
            [RabbitMqOptions.UriVariable] = "amqp://guest:guest@env-host:5673/vh",
            ["Workers:Endpoints:orders:QueueType"] = "Quorum",
            ["Workers:Endpoints:orders:PrefetchCount"] = "16",
        });
        builder.AddWorkers(_ => { });
        using var provider = builder.Services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<WorkersOptions>>().Value;

        Assert.Equal("amqp://guest:guest@env-host:5673/vh", options.RabbitMq.Uri);
        Assert.Equal(QueueType.Quorum, options.Endpoints["orders"].QueueType);
        Assert.Equal(16, options.Endpoints["orders"].PrefetchCount);
    }

    [Fact]
    public void UnknownKey_UnderWorkersSection_IsReportedWithItsPath()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Workers:Endpoints:orders:Prefetch"] = "10",
            ["Workers:RabbitMq:Urii"] = "amqp://x",
            ["Workers:RabbitMq:ClusterNodes:0"] = "h:1",
            ["Workers:Telemetry:Prometheus"] = "false",
        }).Build();
        var options = new WorkersOptions();
        configuration.GetSection("Workers").Bind(options);

        var result = new WorkersOptionsValidator(configuration).Validate(null, options);

        Assert.True(result.Failed);
        Assert.Equal(2, result.Failures!.Count());
        Assert.Contains("Workers:Endpoints:orders:Prefetch is not a known setting", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("PrefetchCount", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Workers:RabbitMq:Urii is not a known setting", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void BrokerAddress_ParsesVirtualHostAndCredentials_AndMasksThePassword()
    {
        Assert.True(BrokerAddress.TryParse("amqp://user:p%40ss@h:5673/my%2Fvhost", out var address, out _));

        Assert.Equal(("h", 5673, "my/vhost", "user", "p@ss"), (address.Host, address.Port, address.VirtualHost, address.Username, address.Password));
        Assert.DoesNotContain("p@ss", address.ToString(), StringComparison.Ordinal);
        Assert.True(BrokerAddress.TryParse("amqp://h", out var root, out _));
        Assert.Equal(("/", 5672), (root.VirtualHost, root.Port));
        Assert.Equal("amqp://user:***@h:1/", BrokerAddress.Mask("amqp://user:secret@h:1/"));
    }
}
