using Automations.Contracts;
using Automations.ServiceDefaults;
using MassTransit;

namespace Automations.WebhookSender.Deliveries;

/// <summary>
/// Hands each command to the dispatcher, which either sends it at once and stores the delivery with its outcome (the
/// message held until then, bounded by Webhooks:MaxInlineAttempts) or stores it first and runs it off the consume path.
/// The delivery is unique per command: a redelivered command stores nothing twice.
/// </summary>
public sealed class SendWebhookConsumer(DeliveryDispatcher dispatcher) : IConsumer<SendWebhook>, IConsumer<SendWebhooks>
{
    public Task Consume(ConsumeContext<SendWebhook> context) => dispatcher.AcceptAsync(context.Message, context.CancellationToken);

    /// <summary>
    /// Rules' commands of one confirm's wait: each accepted as the single message would be, all at once (their stores
    /// share a group commit); the message is acknowledged when every one is. A repeated batch, or an item that also came
    /// alone, stores and sends nothing twice.
    /// </summary>
    public Task Consume(ConsumeContext<SendWebhooks> context)
    {
        var items = context.Message.Commands ?? [];
        return Task.WhenAll(items.Where(i => i?.Command is not null).Select(i => AcceptAsync(i, context.CancellationToken)));
    }

    private async Task AcceptAsync(SendWebhookItem item, CancellationToken ct)
    {
        // The command's own trace (the event's), as the single message's headers would carry it; the batch's receive
        // span is linked. What the dispatcher stores with the delivery (its traceparent) is this span's.
        using var activity = Telemetry.StartBatchItem("send-webhook process", item.Traceparent);
        activity?.SetTag("automations.command_id", item.Command.CommandId);
        await dispatcher.AcceptAsync(item.Command, ct);
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
