using Automations.Core.Secrets;

namespace Automations.Core.Webhooks;

/// <summary>
/// The headers of a webhook request as they are recorded (delivery log) and previewed: one list for the sender and the
/// Api's preview (docs/webhooks.md, "The request"). The trace headers (`traceparent`, `tracestate`) are added by the HTTP
/// handler and are not part of it.
/// </summary>
public static class WebhookHeaders
{
    public const string UserAgent = "Automations-Webhooks/1.0";
    public const string ContentType = "application/json";
    public const string Id = "webhook-id";
    public const string Timestamp = "webhook-timestamp";
    public const string Signature = "webhook-signature";
    public const string WandbSignature = "X-Wandb-Signature";

    /// <summary>
    /// The request's headers: an access token shows only as <c>Bearer ********</c>; the two signatures are given by the
    /// caller (the sender: the real ones; the preview: masked), null when the webhook has no signing secret.
    /// </summary>
    public static Dictionary<string, string> Recorded(string messageId, string timestamp, bool accessToken, string? wandbSignature, string? standardSignature)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["Content-Type"] = ContentType,
            ["User-Agent"] = UserAgent,
            [Id] = messageId,
            [Timestamp] = timestamp,
        };
        if (accessToken) headers["Authorization"] = "Bearer " + SecretMask.Mask;
        if (wandbSignature is not null) headers[WandbSignature] = wandbSignature;
        if (standardSignature is not null) headers[Signature] = standardSignature;
        return headers;
    }
}
