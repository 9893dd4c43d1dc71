namespace Workers.Cli.Broker;

/// <summary>Spaces operations to at most <c>rate</c> per second (no limit when the rate is null).</summary>
internal sealed class Pacer
{
    private readonly double? rate;
    private readonly TimeProvider time;
    private long started;
    private long count;

    public Pacer(double? rate, TimeProvider time)
    {
        this.rate = rate;
        this.time = time;
    }

    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        if (rate is not { } perSecond)
        {
            return;
        }

        if (count == 0)
        {
            started = time.GetTimestamp();
        }

        var due = TimeSpan.FromSeconds(count / perSecond);
        count++;
        var wait = due - time.GetElapsedTime(started);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, time, cancellationToken);
        }
    }

    /// <summary>Parses <c>50</c>, <c>50/s</c>, <c>300/m</c> (per second or per minute).</summary>
    public static double? ParseRate(string? text, string option)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var perMinute = text.EndsWith("/m", StringComparison.OrdinalIgnoreCase);
        var number = text.EndsWith("/s", StringComparison.OrdinalIgnoreCase) || perMinute ? text[..^2] : text;
        if (!double.TryParse(number, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value) || value <= 0 || double.IsInfinity(value))
        {
            throw CliException.Usage($"{option} must be a positive rate such as 50 or 50/s (got '{text}').");
        }

        return perMinute ? value / 60 : value;
    }
}
