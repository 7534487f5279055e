using Automations.ServiceDefaults;

namespace Automations.Api.Webhooks;

public sealed class WebhookDisabledConsumerDefinition() : RetryingConsumerDefinition<WebhookDisabledConsumer>(Queue)
{
    public const string Queue = "webhook-disabled";

    /// <summary>Inbox name = endpoint name.</summary>
    public const string InboxName = Queue;
}
