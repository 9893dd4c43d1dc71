using Microsoft.Extensions.Options;
using Workers.Postgres;
using Workers.Resilience;
using Workers.Resilience.Redelivery;

namespace Workers.Hosting;

/// <summary>
/// <c>Workers:Inbox:Retention</c> against each inbox endpoint's redelivery horizon. A delivery whose commit landed but was
/// reported as failed (a lost or non-durable commit) is redelivered through the delay ladder; when it returns, its inbox
/// row must still be there, or the consumer runs a second time. So the retention must exceed the longest time from a
/// first failure to the last redelivery — the sum of every redelivery delay at its worst (jitter at +20 %, then the
/// MaxDelay cap, then the ladder's rounding up), plus the immediate retries — plus <see cref="Margin"/> for processing
/// and for messages held in the broker meanwhile (paused endpoints, outages). Pure: no I/O, no clock.
/// </summary>
internal static class InboxRetentionRule
{
    /// <summary>Added to the horizon: consumer run time, broker holds, clock differences between replicas.</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromHours(1);

    /// <summary>The longest time from a message's first failure to its last redelivery (options assumed valid).</summary>
    public static TimeSpan Horizon(RedeliveryOptions redelivery)
    {
        ArgumentNullException.ThrowIfNull(redelivery);
        var total = TimeSpan.Zero;
        for (var n = 1; n <= redelivery.MaxRedeliveryAttempts; n++)
        {
            // random = 1: the top of the jitter range (±20 %); without jitter the sample is ignored.
            total += DelayLadder.Effective(RedeliveryDelayCalculator.GetDelay(redelivery, n, random: 1.0));
        }

        return total + (redelivery.ImmediateRetryDelay * redelivery.ImmediateRetries * (redelivery.MaxRedeliveryAttempts + 1));
    }

    /// <summary>One error per inbox endpoint whose horizon plus <see cref="Margin"/> is not shorter than the retention.</summary>
    /// <param name="options">The workers' options (endpoints and defaults).</param>
    /// <param name="queues">The queues of the registered consumers.</param>
    /// <param name="inbox">The inbox options.</param>
    /// <param name="inboxPath">The configuration path of the inbox options.</param>
    public static List<string> Collect(WorkersOptions options, IEnumerable<string> queues, InboxOptions inbox, string inboxPath = $"{WorkersOptions.SectionName}:Inbox")
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(queues);
        ArgumentNullException.ThrowIfNull(inbox);
        var errors = new List<string>();
        if (!inbox.EnableCleanup || inbox.Retention <= TimeSpan.Zero)
        {
            // No cleanup: rows are never deleted. A non-positive retention is reported by the inbox options themselves.
            return errors;
        }

        foreach (var queue in queues.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var endpoint = EffectiveEndpoint.Resolve(options, queue, inboxAvailable: true);
            if (!endpoint.Inbox || endpoint.Redelivery.Validate().Count > 0)
            {
                // Invalid redelivery settings are reported with their own paths.
                continue;
            }

            var horizon = Horizon(endpoint.Redelivery);
            var required = horizon + Margin;
            if (inbox.Retention <= required)
            {
                errors.Add(
                    $"{inboxPath}:Retention ({inbox.Retention}) must be longer than the redelivery horizon of endpoint '{queue}' plus a margin: "
                    + $"{endpoint.Redelivery.MaxRedeliveryAttempts} redeliveries ({RedeliverySource(options, queue)}) take up to {horizon} in the delay ladder, "
                    + $"+ {Margin} = {required}. A delivery whose commit was not confirmed comes back within that horizon and must still find its inbox row, "
                    + "or its consumer runs twice: raise the retention or shorten the redeliveries.");
            }
        }

        return errors;
    }

    private static string RedeliverySource(WorkersOptions options, string queue) =>
        options.Endpoints.TryGetValue(queue, out var own) && own?.Redelivery is not null
            ? $"{WorkersOptions.SectionName}:Endpoints:{queue}:Redelivery"
            : options.Defaults?.Redelivery is not null ? $"{WorkersOptions.SectionName}:Defaults:Redelivery" : "the built-in redelivery defaults";
}

/// <summary>
/// Validates <see cref="InboxOptions"/> at host start against the endpoints of this host (<see cref="InboxRetentionRule"/>).
/// Reads <see cref="WorkersOptions"/> configured but not validated: their own errors are reported by their own validation,
/// in the same start-up failure.
/// </summary>
internal sealed class InboxRetentionValidator(
    IEnumerable<IConfigureOptions<WorkersOptions>> setups,
    IEnumerable<IPostConfigureOptions<WorkersOptions>> postConfigures,
    IReadOnlyList<string> queues) : IValidateOptions<InboxOptions>
{
    public ValidateOptionsResult Validate(string? name, InboxOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var workers = new OptionsFactory<WorkersOptions>(setups, postConfigures).Create(Microsoft.Extensions.Options.Options.DefaultName);
        var errors = InboxRetentionRule.Collect(workers, queues, options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
