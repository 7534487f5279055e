using Automations.Contracts;
using MassTransit;

namespace Automations.WebhookSender.Deliveries;

/// <summary>
/// Hands each command to the dispatcher, which either sends it at once and stores the delivery with its outcome (the
/// message held until then, bounded by Webhooks:MaxInlineAttempts) or stores it first and runs it off the consume path.
/// The delivery is unique per command: a redelivered command stores nothing twice.
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
