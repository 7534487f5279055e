namespace Automations.Contracts;

/// <summary>Request: send one test payload to a webhook now, through the same signer and guard, without retry.</summary>
public record TestWebhook(
    Guid WebhookId,
    string Entity,
    string Payload);
