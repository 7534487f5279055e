using Automations.Core.Webhooks;

namespace Automations.Core.Tests;

public class Scheduling_webhook_retries
{
    [Theory]
    [InlineData(1, 0.5, 5)]
    [InlineData(1, 0.0, 4)]
    [InlineData(1, 1.0, 6)]
    [InlineData(2, 0.5, 300)]
    [InlineData(7, 0.5, 36000)]
    public void Should_follow_the_default_schedule_with_jitter(int attempt, double random, double seconds)
    {
        Assert.Equal(seconds, RetrySchedule.Parse(null).DelayAfter(attempt, random)!.Value.TotalSeconds, 3);
    }

    [Theory]
    [InlineData(null, 8)]
    [InlineData("00:00:01,00:00:02", 3)]
    public void Should_stop_after_the_last_retry(string? schedule, int maxAttempts)
    {
        var s = RetrySchedule.Parse(schedule);
        Assert.Equal(maxAttempts, s.MaxAttempts);
        Assert.NotNull(s.DelayAfter(maxAttempts - 1, 0.5));
        Assert.Null(s.DelayAfter(maxAttempts, 0.5));
    }

    [Theory]
    [InlineData("30", 30)]
    [InlineData("0", 0)]
    [InlineData("999999", 3600)]
    [InlineData("Sat, 28 Nov 2026 00:01:00 GMT", 60)]
    [InlineData("Fri, 27 Nov 2026 00:00:00 GMT", 0)]
    [InlineData("soon", null)]
    [InlineData(null, null)]
    public void Should_honour_retry_after_within_bounds(string? header, int? seconds)
    {
        var now = new DateTimeOffset(2026, 11, 28, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(seconds, (int?)RetrySchedule.ParseRetryAfter(header, now, TimeSpan.FromHours(1))?.TotalSeconds);
    }
}
