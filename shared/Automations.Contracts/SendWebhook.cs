namespace Automations.Contracts;

/// <summary>
/// Deliver one rendered payload to one webhook. Secret references (${NAME}) are still names: the sender fills them in.
/// <paramref name="PayloadFormat"/> says how the payload encodes them; a command without it was rendered before
/// <see cref="SealedPayload"/> existed.
/// </summary>
public record SendWebhook(
    Guid CommandId,
    Guid RunId,
    Guid EventId,
    Guid AutomationId,
    string Entity,
    string Project,
    Guid WebhookId,
    string Payload,
    DateTimeOffset OccurredAt,
    int PayloadFormat = SendWebhook.LegacyPayload)
{
    /// <summary>Only `${` escaped (as `$${`); every other `${NAME}` is a reference, whoever wrote it.</summary>
    public const int LegacyPayload = 1;

    /// <summary>Sealed (PayloadTemplate): `$$` is a `$`, and `${NAME}` only ever a reference the automation's author wrote.</summary>
    public const int SealedPayload = 2;
}
