using Automations.Core.Webhooks;
using Automations.WebhookSender.Sending;

namespace Automations.WebhookSender.Deliveries;

/// <param name="Outcome">what becomes of the delivery.</param>
/// <param name="NextAttemptAt">when it is tried again (<see cref="DeliveryStore.Outcome.Retry"/> only).</param>
/// <param name="Error">the attempt's error as recorded (the result's, and why there is no further attempt).</param>
public readonly record struct AttemptVerdict(DeliveryStore.Outcome Outcome, DateTimeOffset? NextAttemptAt, string? Error);

/// <summary>
/// The one place that decides what an attempt's result means for its delivery. A 2xx succeeds; a 410 disables the
/// webhook (Gone), even on the last attempt; a refusal (URL rule, SSRF guard, a deleted or disabled webhook) fails at
/// once; anything else (another status, a redirect, a timeout, a connection or preparation failure) is tried again
/// after the schedule's next delay, or after the endpoint's Retry-After on a 429 or 503 (at most
/// <paramref name="maxRetryAfter"/>), until the delivery's last attempt. Pure: no I/O, no clock, no randomness of its own.
/// </summary>
public sealed class AttemptClassifier(RetrySchedule schedule, TimeSpan maxRetryAfter)
{
    public static AttemptClassifier From(WebhookOptions options) => new(options.Schedule(), options.MaxRetryAfter);

    /// <param name="attempt">this attempt's number, 1-based.</param>
    /// <param name="maxAttempts">the delivery's number of attempts (the schedule's, or one more for a redelivery by hand).</param>
    /// <param name="manual">a redelivery by hand: its single attempt does not "give up".</param>
    /// <param name="random01">for the schedule's jitter, in [0, 1).</param>
    public AttemptVerdict Classify(SendResult result, int attempt, int maxAttempts, bool manual, DateTimeOffset now, double random01)
    {
        if (result.Success) return new(DeliveryStore.Outcome.Succeeded, null, result.Error);
        if (result.StatusCode == 410) return new(DeliveryStore.Outcome.Gone, null, result.Error);
        if (result.IsRefused) return new(DeliveryStore.Outcome.Failed, null, result.Error);
        if (attempt >= maxAttempts)
            return new(DeliveryStore.Outcome.Failed, null, manual ? result.Error : $"{result.Error}; gave up after {attempt} attempts");
        return (RetryAfter(result, now) ?? schedule.DelayAfter(attempt, random01)) is { } delay
            ? new(DeliveryStore.Outcome.Retry, now + delay, result.Error)
            // A delivery stored with more attempts than the schedule has delays now (the schedule was shortened).
            : new(DeliveryStore.Outcome.Failed, null, result.Error);
    }

    /// <summary>The endpoint's Retry-After on a 429 or 503, clamped to [0, maxRetryAfter]; null when it sent none.</summary>
    private TimeSpan? RetryAfter(SendResult result, DateTimeOffset now)
    {
        if (result.StatusCode is not (429 or 503)) return null;
        var delay = result.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - now,
            _ => (TimeSpan?)null,
        };
        if (delay is not { } d) return null;
        return d < TimeSpan.Zero ? TimeSpan.Zero : d > maxRetryAfter ? maxRetryAfter : d;
    }
}
