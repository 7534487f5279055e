using Automations.Contracts;
using MassTransit;

namespace Automations.WebhookSender.Deliveries;

/// <summary>
/// Stores the delivery (unique per command: a redelivered command sends nothing twice) already claimed by this process,
/// acknowledges the message, and hands the attempt to the dispatcher, so a slow endpoint never holds a broker message.
/// </summary>
public sealed class SendWebhookConsumer(DeliveryStore store, DeliveryDispatcher dispatcher) : IConsumer<SendWebhook>
{
    public async Task Consume(ConsumeContext<SendWebhook> context)
    {
        var m = context.Message;
        // A webhook whose deliveries already fill its share of this process (an endpoint that hangs): the delivery is
        // stored unclaimed and due, and the scheduler hands it over when the webhook has room; other webhooks go on.
        if (!dispatcher.TryHold(m.WebhookId))
        {
            await store.CreateAsync(m, claimed: false, context.CancellationToken);
            return;
        }
        var dispatched = false;
        try
        {
            await dispatcher.WaitForRoomAsync(context.CancellationToken);
            var work = await store.CreateAsync(m, claimed: true, context.CancellationToken);
            if (work is not null)
            {
                dispatcher.Dispatch(work);
                dispatched = true;
            }
        }
        finally
        {
            if (!dispatched) dispatcher.ReleaseHold(m.WebhookId);
        }
    }
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
