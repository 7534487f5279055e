using Automations.Contracts;
using Automations.Persistence.Writes;
using Dapper;
using MassTransit;

namespace Automations.Api.Webhooks;

/// <summary>
/// Shows a webhook the sender stopped delivering to (410 Gone) as disabled, with the reason. It leaves updated_at
/// alone: an admin's PUT bumps it past disabled_at, which is how the sender learns the webhook is enabled again.
/// </summary>
public sealed class WebhookDisabledConsumer([FromKeyedServices(Extensions.Schema)] Writes writes) : IConsumer<WebhookDisabled>
{
    public async Task Consume(ConsumeContext<WebhookDisabled> context)
    {
        var m = context.Message;
        await using var w = await writes.BeginTransactionAsync(context.CancellationToken);
        if (context.MessageId is { } messageId && !await w.InboxAsync(WebhookDisabledConsumerDefinition.InboxName, messageId, context.CancellationToken))
            return;
        await w.Connection.ExecuteAsync(
            """
            update control.webhooks set disabled_at = @DisabledAt, disabled_reason = left(@Reason, 1000)
            where id = @WebhookId and disabled_at is null and updated_at <= @DisabledAt
            """, new { m.WebhookId, m.DisabledAt, m.Reason }, w.Transaction);
        await w.CommitAsync(context.CancellationToken);
    }
}
