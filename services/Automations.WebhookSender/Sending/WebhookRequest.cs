using Automations.Core.Secrets;

namespace Automations.WebhookSender.Sending;

/// <summary>
/// One request, ready for <see cref="WebhookClient.SendAsync"/>, made by <see cref="WebhookDirectory.PrepareAsync"/>. It
/// holds secret values (the rendered body, the signing secret, the access token): a class, not a record, so no generated
/// ToString can print them into a log or an exception.
/// </summary>
public sealed class WebhookRequest
{
    public required string Url { get; init; }

    /// <summary>What is shown of <see cref="Url"/> when it is a secret (a notification integration's); null when it is not.</summary>
    public string? ShownUrl { get; init; }

    /// <summary>The `webhook-id` header: the delivery id, stable across retries.</summary>
    public required Guid MessageId { get; init; }

    /// <summary>The body as sent: the payload with its secret references filled in.</summary>
    public string Body { get; init; } = "";

    /// <summary>The body with every filled-in secret as <see cref="SecretMask.Mask"/>: what is shown of the request.</summary>
    public string MaskedBody { get; init; } = "";

    /// <summary>Empty when the webhook signs nothing.</summary>
    public string SigningSecret { get; init; } = "";

    public string? AccessToken { get; init; }

    /// <summary>Every secret value in this request, for what the endpoint answers.</summary>
    public SecretMask Mask { get; init; } = new([]);

    /// <summary>Why the request could not be prepared (a master key missing, a payload unreadable); the client then sends nothing.</summary>
    public string? NotPrepared { get; init; }
}
