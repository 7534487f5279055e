using System.Net.Http.Headers;
using Automations.Core.Webhooks;
using Automations.WebhookSender.Deliveries;
using Automations.WebhookSender.Sending;

namespace Automations.WebhookSender.Tests;

/// <summary>
/// What an attempt's result means for its delivery, from the one classifier: no broker, no database, no clock. The
/// schedule is 1 s, 5 s, 30 s (four attempts) with ±20 % jitter; Retry-After is honoured up to 10 h.
/// </summary>
public class Classifying_an_attempt
{
    private static readonly DateTimeOffset Now = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);

    private static readonly AttemptClassifier Classifier =
        new(new RetrySchedule([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30)], 0.2), TimeSpan.FromHours(10));

    /// <param name="answer">a status the endpoint answered, or what happened instead: refused, timeout, unreachable, not-prepared.</param>
    /// <param name="retryAfter">the Retry-After header: seconds, or "date+N" / "date-N" for an HTTP date N seconds from now.</param>
    private static SendResult Result(string answer, string? retryAfter) => answer switch
    {
        "refused" => SendResult.Refused("refused by the SSRF guard: metadata.example resolves to 169.254.169.254 (cloud metadata address)"),
        "timeout" => SendResult.NoAnswer("timed out after 15 s"),
        "unreachable" => SendResult.NoAnswer("request failed: ConnectionError Connection refused"),
        "not-prepared" => SendResult.NoAnswer("could not prepare the request: CryptographicException"),
        _ => SendResult.Answered(int.Parse(answer, System.Globalization.CultureInfo.InvariantCulture), new Dictionary<string, string>(), "", false, retryAfter switch
        {
            null => null,
            _ when retryAfter.StartsWith("date", StringComparison.Ordinal) =>
                new RetryConditionHeaderValue(Now.AddSeconds(int.Parse(retryAfter[4..], System.Globalization.CultureInfo.InvariantCulture))),
            _ => new RetryConditionHeaderValue(TimeSpan.FromSeconds(int.Parse(retryAfter, System.Globalization.CultureInfo.InvariantCulture))),
        }),
    };

    [Theory]
    // Success ends the delivery, on any attempt.
    [InlineData("200", null, 1, 4, false, 0.5, "Succeeded", null, null)]
    [InlineData("204", null, 4, 4, false, 0.5, "Succeeded", null, null)]
    [InlineData("299", null, 1, 1, true, 0.5, "Succeeded", null, null)]
    // Anything else is retried on the schedule, jitter included, until the last attempt.
    [InlineData("500", null, 1, 4, false, 0.5, "Retry", 1.0, "HTTP 500")]
    [InlineData("500", null, 1, 4, false, 0.0, "Retry", 0.8, "HTTP 500")]
    [InlineData("500", null, 2, 4, false, 0.5, "Retry", 5.0, "HTTP 500")]
    [InlineData("500", null, 3, 4, false, 0.75, "Retry", 33.0, "HTTP 500")]
    [InlineData("404", null, 1, 4, false, 0.5, "Retry", 1.0, "HTTP 404")]
    [InlineData("302", null, 1, 4, false, 0.5, "Retry", 1.0, "redirect not followed (302)")]
    [InlineData("timeout", null, 1, 4, false, 0.5, "Retry", 1.0, "timed out after 15 s")]
    [InlineData("unreachable", null, 2, 4, false, 0.5, "Retry", 5.0, "request failed: ConnectionError Connection refused")]
    [InlineData("not-prepared", null, 1, 4, false, 0.5, "Retry", 1.0, "could not prepare the request: CryptographicException")]
    [InlineData("500", null, 4, 4, false, 0.5, "Failed", null, "HTTP 500; gave up after 4 attempts")]
    [InlineData("timeout", null, 4, 4, false, 0.5, "Failed", null, "timed out after 15 s; gave up after 4 attempts")]
    // A redelivery by hand is one attempt: it fails without "giving up".
    [InlineData("500", null, 5, 5, true, 0.5, "Failed", null, "HTTP 500")]
    // A delivery stored with more attempts than the schedule now has delays fails when the schedule runs out.
    [InlineData("500", null, 4, 6, false, 0.5, "Failed", null, "HTTP 500")]
    // 410 disables the webhook, whatever the attempt.
    [InlineData("410", null, 1, 4, false, 0.5, "Gone", null, "HTTP 410")]
    [InlineData("410", null, 4, 4, false, 0.5, "Gone", null, "HTTP 410")]
    [InlineData("410", null, 5, 5, true, 0.5, "Gone", null, "HTTP 410")]
    // Retry-After on 429 and 503 replaces the schedule's delay, as seconds or as a date, clamped to [0, 10 h].
    [InlineData("429", "3", 1, 4, false, 0.5, "Retry", 3.0, "HTTP 429")]
    [InlineData("503", "date+120", 1, 4, false, 0.5, "Retry", 120.0, "HTTP 503")]
    [InlineData("503", "date-60", 1, 4, false, 0.5, "Retry", 0.0, "HTTP 503")]
    [InlineData("429", "86400", 1, 4, false, 0.5, "Retry", 36000.0, "HTTP 429")]
    [InlineData("429", null, 2, 4, false, 0.5, "Retry", 5.0, "HTTP 429")]
    [InlineData("500", "3", 1, 4, false, 0.5, "Retry", 1.0, "HTTP 500")]
    [InlineData("429", "3", 4, 4, false, 0.5, "Failed", null, "HTTP 429; gave up after 4 attempts")]
    // A refusal (URL rule, SSRF guard, a deleted or disabled webhook) fails at once: trying again cannot help.
    [InlineData("refused", null, 1, 4, false, 0.5, "Failed", null, "refused by the SSRF guard: metadata.example resolves to 169.254.169.254 (cloud metadata address)")]
    [InlineData("refused", null, 4, 4, false, 0.5, "Failed", null, "refused by the SSRF guard: metadata.example resolves to 169.254.169.254 (cloud metadata address)")]
    public void Should_decide_the_outcome_and_the_next_attempt(string answer, string? retryAfter, int attempt, int maxAttempts, bool manual, double random01,
        string outcome, double? delaySeconds, string? error)
    {
        var verdict = Classifier.Classify(Result(answer, retryAfter), attempt, maxAttempts, manual, Now, random01);

        Assert.Equal(outcome, verdict.Outcome.ToString());
        Assert.Equal(delaySeconds, verdict.NextAttemptAt is { } next ? Math.Round((next - Now).TotalSeconds, 3) : null);
        Assert.Equal(error, verdict.Error);
    }

    [Theory]
    [InlineData(200, null, true, null)]
    [InlineData(299, null, true, null)]
    [InlineData(301, "https://elsewhere.example/hook", false, "redirect not followed (301 to https://elsewhere.example/hook)")]
    [InlineData(304, null, false, "redirect not followed (304)")]
    [InlineData(400, null, false, "HTTP 400")]
    [InlineData(503, null, false, "HTTP 503")]
    public void Should_describe_what_the_endpoint_answered(int status, string? location, bool success, string? error)
    {
        var result = SendResult.Answered(status, new Dictionary<string, string>(), "", false, location: location is null ? null : new Uri(location));
        Assert.Equal(success, result.Success);
        Assert.Equal(error, result.Error);
        Assert.Equal(status, result.StatusCode);
        Assert.False(result.IsRefused);
    }
}
