namespace Automations.Core.Webhooks;

/// <summary>The delays between webhook attempts: one per retry, each stretched by a random ±jitter.</summary>
public sealed class RetrySchedule
{
    public static readonly IReadOnlyList<TimeSpan> DefaultDelays =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2),
        TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(10),
    ];

    public RetrySchedule(IReadOnlyList<TimeSpan> delays, double jitter)
    {
        if (jitter is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(jitter), "jitter must be in [0, 1)");
        Delays = delays;
        Jitter = jitter;
    }

    public IReadOnlyList<TimeSpan> Delays { get; }
    public double Jitter { get; }

    /// <summary>First attempt plus one per retry.</summary>
    public int MaxAttempts => Delays.Count + 1;

    /// <summary>"00:00:05,00:05:00" (TimeSpan values, comma-separated); empty or null gives the default schedule.</summary>
    public static RetrySchedule Parse(string? delays, double jitter = 0.2) =>
        new(string.IsNullOrWhiteSpace(delays)
            ? DefaultDelays
            : delays.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(d => TimeSpan.Parse(d, System.Globalization.CultureInfo.InvariantCulture)).ToArray(), jitter);

    /// <summary>The delay after failed attempt number <paramref name="attempt"/> (1-based), or null when it was the last one.</summary>
    public TimeSpan? DelayAfter(int attempt, double random01)
    {
        if (attempt < 1 || attempt > Delays.Count) return null;
        var factor = 1 + Jitter * (2 * random01 - 1);
        return TimeSpan.FromTicks((long)(Delays[attempt - 1].Ticks * factor));
    }

    /// <summary>Retry-After (delta seconds or an HTTP date) as a delay, clamped to [0, <paramref name="max"/>]; null when absent or unreadable.</summary>
    public static TimeSpan? ParseRetryAfter(string? value, DateTimeOffset now, TimeSpan max)
    {
        if (string.IsNullOrWhiteSpace(value)) return null;
        TimeSpan delay;
        if (long.TryParse(value.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds))
            delay = TimeSpan.FromSeconds(Math.Min(seconds, (long)max.TotalSeconds + 1));
        else if (DateTimeOffset.TryParse(value.Trim(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at))
            delay = at - now;
        else
            return null;
        if (delay < TimeSpan.Zero) delay = TimeSpan.Zero;
        return delay > max ? max : delay;
    }
}
