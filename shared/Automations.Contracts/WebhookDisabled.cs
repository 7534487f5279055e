namespace Automations.Contracts;

/// <summary>The sender stopped delivering to a webhook (for example after 410 Gone). An admin re-enables it in the Api.</summary>
public record WebhookDisabled(
    Guid WebhookId,
    string Entity,
    string Reason,
    DateTimeOffset DisabledAt);
