namespace Automations.Contracts;

/// <summary>
/// Response to <see cref="TestWebhook"/>. Secret values used in the request are masked (`********`) everywhere here,
/// the endpoint's answer included. <paramref name="ResponseBody"/> is an excerpt; <paramref name="ResponseTruncated"/> says the body went on.
/// </summary>
public record WebhookTestResult(
    bool Success,
    int? StatusCode,
    IReadOnlyDictionary<string, string> ResponseHeaders,
    string? ResponseBody,
    double LatencyMs,
    string? Error,
    string RequestUrl,
    IReadOnlyDictionary<string, string> RequestHeaders,
    string RequestBody,
    bool ResponseTruncated = false);
