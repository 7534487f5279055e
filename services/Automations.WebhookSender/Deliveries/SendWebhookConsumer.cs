using Automations.Contracts;
using MassTransit;

namespace Automations.WebhookSender.Deliveries;

/// <summary>
/// Hands each command to the dispatcher, which stores its delivery (unique per command: a redelivered command sends
/// nothing twice) and runs it off the consume path, so a slow endpoint never holds a broker message.
/// </summary>
public sealed class SendWebhookConsumer(DeliveryDispatcher dispatcher) : IConsumer<SendWebhook>
{
    public Task Consume(ConsumeContext<SendWebhook> context) => dispatcher.AcceptAsync(context.Message, context.CancellationToken);
}

public sealed class RedeliverWebhookConsumer(DeliveryStore store, DeliveryScheduler scheduler, ILogger<RedeliverWebhookConsumer> logger) : IConsumer<RedeliverWebhook>
{
    public async Task Consume(ConsumeContext<RedeliverWebhook> context)
    {
        var m = context.Message;
        var count = await store.RedeliverAsync(m, context.MessageId ?? m.RequestId, context.CancellationToken);
        logger.LogInformation("Redelivery {RequestId} by {RequestedBy}: {Count} deliveries scheduled", m.RequestId, m.RequestedBy, count);
        scheduler.Wake();
    }
}
