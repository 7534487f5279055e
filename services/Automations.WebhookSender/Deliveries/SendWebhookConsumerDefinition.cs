using Automations.ServiceDefaults;

namespace Automations.WebhookSender.Deliveries;

/// <summary>No inbox: the delivery row is unique per command, so a redelivered command stores and sends nothing twice.</summary>
public sealed class SendWebhookConsumerDefinition() : RetryingConsumerDefinition<SendWebhookConsumer>(Queue)
{
    public const string Queue = "send-webhook";
}
