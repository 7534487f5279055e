namespace Automations.Contracts;

public record WebhookDeliveryCompleted(
    Guid CommandId,
    Guid RunId,
    Guid DeliveryId,
    int StatusCode,
    int Attempts,
    DateTimeOffset CompletedAt);
