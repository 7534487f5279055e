namespace Automations.Contracts;

/// <summary>
/// Several <see cref="WebhookDeliveryCompleted"/> outcomes in one message: the sender publishes the successful
/// deliveries of the last few milliseconds together (one broker message instead of one per delivery). Each item
/// stands alone: a consumer handles it exactly as it would the single message, which the sender's outbox relay still
/// publishes for an outcome the batch did not carry (a crash or a broker outage between commit and publish).
/// </summary>
public record WebhookDeliveriesCompleted(IReadOnlyList<WebhookDeliveryCompleted> Deliveries);
