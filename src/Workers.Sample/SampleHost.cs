using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Workers.Exporters;
using Workers.Hosting;
using Workers.Sample.Data;
using Workers.Sample.Orders;
using Workers.Sample.Payments;

namespace Workers.Sample;

/// <summary>Composes the sample worker service: order processing with a payment dependency.</summary>
public static class SampleHost
{
    /// <summary>The queue of <see cref="SubmitOrderConsumer"/>.</summary>
    public const string OrdersQueue = "submit-order";

    /// <summary>The queue of <see cref="OrderAcceptedConsumer"/>.</summary>
    public const string NotificationsQueue = "order-accepted";

    /// <summary>Environment variable naming a JSON file of configuration overrides, reloaded when it changes.</summary>
    public const string OverridesVariable = "WORKERS_SAMPLE_OVERRIDES";

    /// <summary>Adds the sample's services and workers to a host builder.</summary>
    public static T AddSample<T>(this T builder)
        where T : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<PaymentOptions>().BindConfiguration(PaymentOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<OrderLedger>();
        builder.Services.TryAddSingleton<IPaymentGateway, SimulatedPaymentGateway>();

        // Runtime overrides (e.g. switch the payment provider down and up): a JSON file re-read when it changes.
        if (builder.Configuration[OverridesVariable] is { Length: > 0 } overrides)
        {
            builder.Configuration.AddJsonFile(overrides, optional: true, reloadOnChange: true);
        }

        // Before AddWorkers: the schema exists before the bus starts consuming.
        builder.Services.AddHostedService<SampleSchema>();
        builder.AddWorkers(workers => workers
            .UsePostgres<SampleDbContext>()
            .AddConsumer<SubmitOrderConsumer>(OrdersQueue)
            .AddConsumer<OrderAcceptedConsumer>(NotificationsQueue));
        // Workers' own exporters (an opt-in): Prometheus for /metrics, OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
        builder.AddWorkersExporters();
        return builder;
    }
}
