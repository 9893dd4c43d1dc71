using System.Text.RegularExpressions;

namespace Workers.Hosting;

/// <summary>A policy or operator policy of the vhost as the management API lists it (only what the check needs).</summary>
/// <param name="Name">The policy's name.</param>
/// <param name="Pattern">The queue-name pattern (a regular expression).</param>
/// <param name="ApplyTo">What it applies to: <c>all</c>, <c>queues</c>, <c>quorum_queues</c>, <c>classic_queues</c>, <c>streams</c>, <c>exchanges</c>.</param>
/// <param name="Priority">Its priority: of the matching policies, the highest applies.</param>
/// <param name="DeliveryLimit">Its <c>delivery-limit</c>, or null when it sets none.</param>
/// <param name="Operator">An operator policy (applies on top of the user policy: the lower limit wins).</param>
internal sealed record BrokerPolicy(string Name, string Pattern, string ApplyTo, int Priority, long? DeliveryLimit, bool Operator = false);

/// <summary>A quorum queue whose effective delivery limit is below what Workers needs.</summary>
internal sealed record DeliveryLimitViolation(string Queue, long Limit, string Source);

/// <summary>
/// The delivery limit RabbitMQ enforces on a quorum queue that Workers declares with
/// <see cref="Workers.Resilience.Broker.QuorumQueueArguments.UnreachableDeliveryLimit"/>: a policy (or an operator
/// policy) can lower it. Pure: the preflight feeds it what the management API lists.
/// <para>
/// RabbitMQ applies one policy per queue (the matching one with the highest priority) and one operator policy; for
/// <c>delivery-limit</c> the lowest of queue argument, policy and operator policy wins (verified on 4.0.5: argument
/// 2^31−1, policy 3 → limit 3). A negative value means "no limit" on 4.x; RabbitMQ 3.10.8 drops a message at its
/// first return then, as with 0 (verified for the queue argument). Two matching policies of the same priority: the
/// lower limit is taken, as the broker's choice between them is not specified.
/// </para>
/// </summary>
internal static class DeliveryLimits
{
    private static readonly TimeSpan PatternTimeout = TimeSpan.FromSeconds(1);

    /// <summary>The queue's effective limit and where it comes from; null when nothing limits it below the declared value.</summary>
    public static (long Limit, string Source)? Effective(string queue, long declared, IEnumerable<BrokerPolicy> policies, Version brokerVersion, ICollection<string>? unreadable = null)
    {
        ArgumentNullException.ThrowIfNull(policies);
        (long Limit, string Source) best = (declared, "the queue's x-delivery-limit argument");
        foreach (var group in policies.GroupBy(p => p.Operator))
        {
            var readable = new List<BrokerPolicy>();
            var unknown = new List<BrokerPolicy>();
            foreach (var policy in group.Where(p => AppliesToQuorumQueue(p.ApplyTo)))
            {
                switch (Matches(policy, queue))
                {
                    case true: readable.Add(policy); break;
                    case null: unknown.Add(policy); unreadable?.Add(policy.Name); break;
                }
            }

            // The highest-priority match applies; a pattern .NET cannot read (Erlang's dialect differs in corners) may
            // match too: its limit counts, but it shadows no readable policy, so no limit is missed.
            var top = readable.Count == 0 ? int.MinValue : readable.Max(p => p.Priority);
            foreach (var policy in readable.Where(p => p.Priority == top).Concat(unknown).Where(p => p.DeliveryLimit is not null))
            {
                var limit = Normalise(policy.DeliveryLimit!.Value, brokerVersion);
                if (limit < best.Limit)
                {
                    best = (limit, $"{(policy.Operator ? "operator policy" : "policy")} '{policy.Name}' (pattern '{policy.Pattern}', delivery-limit {policy.DeliveryLimit})");
                }
            }
        }

        return best.Limit < declared ? best : null;
    }

    /// <summary>Every queue whose effective limit is below <paramref name="minimum"/>.</summary>
    public static IReadOnlyList<DeliveryLimitViolation> Check(IEnumerable<string> quorumQueues, IReadOnlyList<BrokerPolicy> policies, Version brokerVersion, long minimum, ICollection<string>? unreadable = null)
    {
        var violations = new List<DeliveryLimitViolation>();
        foreach (var queue in quorumQueues)
        {
            if (Effective(queue, Workers.Resilience.Broker.QuorumQueueArguments.UnreachableDeliveryLimit, policies, brokerVersion, unreadable) is { } effective
                && effective.Limit < minimum)
            {
                violations.Add(new DeliveryLimitViolation(queue, effective.Limit, effective.Source));
            }
        }

        return violations;
    }

    private static long Normalise(long limit, Version brokerVersion) => limit switch
    {
        < 0 when brokerVersion.Major >= 4 => long.MaxValue,
        < 0 => 0,
        _ => limit,
    };

    private static bool AppliesToQuorumQueue(string applyTo) => applyTo is "all" or "queues" or "quorum_queues";

    private static bool? Matches(BrokerPolicy policy, string queue)
    {
        try
        {
            return Regex.IsMatch(queue, policy.Pattern, RegexOptions.CultureInvariant, PatternTimeout);
        }
        catch (Exception ex) when (ex is ArgumentException or RegexMatchTimeoutException)
        {
            return null;
        }
    }
}
