namespace Workers.Resilience;

/// <summary>What a circuit breaker looks like at one moment (see <see cref="CircuitBreakerRegistry"/>).</summary>
/// <param name="Name">The breaker's name (the endpoint's queue, or the shared dependency's name).</param>
/// <param name="State">Its state.</param>
/// <param name="Endpoints">Input addresses of the receive endpoints it pauses.</param>
/// <param name="Successes">Successes in the current sampling window.</param>
/// <param name="Failures">Counted failures in the current sampling window.</param>
/// <param name="OpenUntil">When an open breaker turns half-open; null otherwise.</param>
/// <param name="ConsecutiveBreaks">Openings since it was last closed (drives the growing break duration).</param>
/// <param name="LastChange">When the state last changed.</param>
/// <param name="LastFailure">Type and message of the failure that last opened it, if any.</param>
public sealed record CircuitBreakerSnapshot(
    string Name,
    CircuitState State,
    IReadOnlyList<Uri> Endpoints,
    int Successes,
    int Failures,
    DateTimeOffset? OpenUntil,
    int ConsecutiveBreaks,
    DateTimeOffset LastChange,
    string? LastFailure);
