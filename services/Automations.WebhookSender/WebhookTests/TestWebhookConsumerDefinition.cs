using MassTransit;

namespace Automations.WebhookSender.WebhookTests;

/// <summary>
/// No retry and no inbox: a test is one request while an admin waits for the answer (the Api gives up after 30 s, sooner
/// than ConsumerRetry's pauses), and a failure after the request went out would send it again.
/// </summary>
public sealed class TestWebhookConsumerDefinition : ConsumerDefinition<TestWebhookConsumer>
{
    public const string Queue = "test-webhook";

    public TestWebhookConsumerDefinition() => Endpoint(e => e.Name = Queue);
}
