namespace Automations.Contracts;

public record WebhookDeliveryFailed(
    Guid CommandId,
    Guid RunId,
    Guid DeliveryId,
    string Reason,
    int? StatusCode,
    int Attempts,
    DateTimeOffset FailedAt);
