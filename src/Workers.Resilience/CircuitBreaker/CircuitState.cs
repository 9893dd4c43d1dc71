namespace Workers.Resilience;

/// <summary>State of an endpoint circuit breaker (the value of the <c>workers.circuit.state</c> gauge).</summary>
public enum CircuitState
{
    /// <summary>Messages flow; outcomes are sampled.</summary>
    Closed = 0,

    /// <summary>The endpoint is paused: it does not consume, messages wait in the broker queue.</summary>
    Open = 1,

    /// <summary>The endpoint consumes again, but only a few probe messages run until one succeeds or fails.</summary>
    HalfOpen = 2,
}
