namespace Workers.Resilience;

/// <summary>Timeouts of one consumer (see <see cref="ConsumerTimeoutRegistry"/>).</summary>
/// <param name="Consumer">The consumer's name.</param>
/// <param name="Timeout">Its configured timeout.</param>
/// <param name="TimedOut">Attempts that timed out since start.</param>
/// <param name="IgnoredCancellation">Timed-out attempts whose consumer had not returned within the grace period, since start.</param>
/// <param name="StillRunning">Of those, how many are still running now (each holds a bulkhead permit).</param>
public sealed record ConsumerTimeoutSnapshot(string Consumer, TimeSpan Timeout, long TimedOut, long IgnoredCancellation, int StillRunning);
