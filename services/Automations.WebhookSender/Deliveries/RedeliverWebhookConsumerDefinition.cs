using Automations.ServiceDefaults;

namespace Automations.WebhookSender.Deliveries;

public sealed class RedeliverWebhookConsumerDefinition() : RetryingConsumerDefinition<RedeliverWebhookConsumer>(Queue)
{
    public const string Queue = "redeliver-webhook";

    /// <summary>Inbox name = endpoint name.</summary>
    public const string InboxName = Queue;
}
