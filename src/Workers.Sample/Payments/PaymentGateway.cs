using Microsoft.Extensions.Options;

namespace Workers.Sample.Payments;

/// <summary>The payment provider the order consumer depends on.</summary>
public interface IPaymentGateway
{
    /// <summary>Charges the customer; returns the payment's id. Throws <see cref="PaymentUnavailableException"/> when the provider fails.</summary>
    Task<string> ChargeAsync(Guid orderId, string customerId, decimal amount, CancellationToken cancellationToken);
}

/// <summary>The payment provider failed or is down: a transient failure, worth retrying later.</summary>
public sealed class PaymentUnavailableException(string message) : Exception(message);

/// <summary>
/// A simulated provider: latency, random failures and outages come from <see cref="PaymentOptions"/>
/// (re-read on every call, so an outage can be switched on and off while the worker runs).
/// Customers whose id starts with <c>flaky-N-</c> fail their first N charges, so that a demo can show redelivery deterministically.
/// </summary>
internal sealed class SimulatedPaymentGateway(IOptionsMonitor<PaymentOptions> options, TimeProvider time) : IPaymentGateway
{
    private readonly Dictionary<Guid, int> attempts = [];

    public async Task<string> ChargeAsync(Guid orderId, string customerId, decimal amount, CancellationToken cancellationToken)
    {
        var current = options.CurrentValue;
        if (current.LatencyMs > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(current.LatencyMs), time, cancellationToken);
        }

        if (current.Down)
        {
            throw new PaymentUnavailableException("The payment provider is down.");
        }

        if (FlakyFailures(customerId) is var failures and > 0)
        {
            int attempt;
            lock (attempts)
            {
                attempts[orderId] = attempt = attempts.GetValueOrDefault(orderId) + 1;
            }

            if (attempt <= failures)
            {
                throw new PaymentUnavailableException($"The payment provider timed out (attempt {attempt} of order {orderId}).");
            }
        }

        if (current.FailureRate > 0 && Random.Shared.NextDouble() < current.FailureRate)
        {
            throw new PaymentUnavailableException("The payment provider answered 503.");
        }

        return $"pay_{orderId:N}"[..16];
    }

    private static int FlakyFailures(string customerId)
    {
        if (!customerId.StartsWith("flaky-", StringComparison.Ordinal))
        {
            return 0;
        }

        var end = customerId.IndexOf('-', 6);
        return end > 6 && int.TryParse(customerId.AsSpan(6, end - 6), out var n) ? n : 1;
    }
}
