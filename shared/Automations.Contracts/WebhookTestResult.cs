namespace Automations.Contracts;

/// <summary>Response to <see cref="TestWebhook"/>. Secret values in <paramref name="RequestHeaders"/> and <paramref name="RequestBody"/> are masked.</summary>
public record WebhookTestResult(
    bool Success,
    int? StatusCode,
    IReadOnlyDictionary<string, string> ResponseHeaders,
    string? ResponseBody,
    double LatencyMs,
    string? Error,
    string RequestUrl,
    IReadOnlyDictionary<string, string> RequestHeaders,
    string RequestBody);
