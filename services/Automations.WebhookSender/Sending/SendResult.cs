using System.Net.Http.Headers;

namespace Automations.WebhookSender.Sending;

/// <summary>
/// What one request did, made by <see cref="Answered"/>, <see cref="Refused"/> or <see cref="NoAnswer"/>. Every text
/// here is masked (<see cref="WebhookClient"/> passes it through the request's <c>SecretMask</c>): no secret value used in
/// the request is in the echoed request, the response headers, the response body or the error. What it means for the
/// delivery (succeeded, retried when, failed, gone) is decided in one place: <c>Deliveries.AttemptClassifier</c>.
/// </summary>
public sealed record SendResult
{
    private static readonly IReadOnlyDictionary<string, string> NoHeaders = new Dictionary<string, string>();

    /// <summary>The endpoint's status; null when it did not answer (refused, unreachable, timed out, not prepared).</summary>
    public int? StatusCode { get; init; }

    public IReadOnlyDictionary<string, string> ResponseHeaders { get; init; } = NoHeaders;

    /// <summary>The first Webhooks:MaxResponseBodyBytes of the response body; <see cref="ResponseTruncated"/> says it went on.</summary>
    public string? ResponseBody { get; init; }

    public bool ResponseTruncated { get; init; }

    /// <summary>Why the attempt did not succeed; null for a 2xx.</summary>
    public string? Error { get; init; }

    /// <summary>A rule refused the request before it went out (URL rule, SSRF guard, a deleted or disabled webhook): trying again cannot help.</summary>
    public bool IsRefused { get; init; }

    /// <summary>The endpoint's Retry-After as it sent it; whether it is honoured is the classifier's business.</summary>
    public RetryConditionHeaderValue? RetryAfter { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    public double DurationMs { get; init; }

    public string RequestUrl { get; init; } = "";

    public IReadOnlyDictionary<string, string> RequestHeaders { get; init; } = NoHeaders;

    public string RequestBody { get; init; } = "";

    /// <summary>The endpoint answered 2xx.</summary>
    public bool Success => StatusCode is >= 200 and < 300 && Error is null;

    /// <summary>The endpoint answered; anything but a 2xx is an error (a redirect is not followed).</summary>
    public static SendResult Answered(int status, IReadOnlyDictionary<string, string> headers, string body, bool truncated,
        RetryConditionHeaderValue? retryAfter = null, Uri? location = null) => new()
    {
        StatusCode = status,
        ResponseHeaders = headers,
        ResponseBody = body,
        ResponseTruncated = truncated,
        RetryAfter = retryAfter,
        Error = status switch
        {
            >= 200 and < 300 => null,
            >= 300 and < 400 => $"redirect not followed ({status}{(location is null ? "" : " to " + location)})",
            _ => $"HTTP {status}",
        },
    };

    /// <summary>Nothing was sent, and nothing will be: <paramref name="reason"/> says which rule refused it.</summary>
    public static SendResult Refused(string reason) => new() { Error = reason, IsRefused = true };

    /// <summary>No answer this time (the name did not resolve, the connection failed, the timeout ran out, the request could not be prepared): worth another attempt.</summary>
    public static SendResult NoAnswer(string reason) => new() { Error = reason };
}
