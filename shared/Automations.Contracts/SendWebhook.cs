namespace Automations.Contracts;

/// <summary>Deliver one rendered payload to one webhook. Secret references (${NAME}) are still names: the sender fills them in.</summary>
public record SendWebhook(
    Guid CommandId,
    Guid RunId,
    Guid EventId,
    Guid AutomationId,
    string Entity,
    string Project,
    Guid WebhookId,
    string Payload,
    DateTimeOffset OccurredAt);
