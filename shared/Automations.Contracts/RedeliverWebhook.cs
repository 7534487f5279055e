namespace Automations.Contracts;

/// <summary>
/// Command from the Api to the WebhookSender: attempt again, once, one delivery (<paramref name="DeliveryId"/>) or every
/// failed delivery of a webhook created in [<paramref name="From"/>, <paramref name="To"/>) (<paramref name="WebhookId"/>).
/// The new attempts keep each delivery's webhook-id.
/// </summary>
public record RedeliverWebhook(
    Guid RequestId,
    string Entity,
    Guid? DeliveryId,
    Guid? WebhookId,
    DateTimeOffset? From,
    DateTimeOffset? To,
    string RequestedBy,
    DateTimeOffset RequestedAt);
