using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Workers.Hosting;
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

    /// <summary>Adds the sample's services and workers to a host builder.</summary>
    public static T AddSample<T>(this T builder)
        where T : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<PaymentOptions>().BindConfiguration(PaymentOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<OrderLedger>();
        builder.Services.TryAddSingleton<IPaymentGateway, SimulatedPaymentGateway>();
        builder.AddWorkers(workers => workers
            .AddConsumer<SubmitOrderConsumer>(OrdersQueue)
            .AddConsumer<OrderAcceptedConsumer>(NotificationsQueue));
        return builder;
    }
}
