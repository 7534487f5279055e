using Automations.Contracts;
using Automations.Persistence.Inbox;
using Dapper;
using MassTransit;
using Npgsql;

namespace Automations.Api.Webhooks;

/// <summary>
/// Shows a webhook the sender stopped delivering to (410 Gone) as disabled, with the reason. It leaves updated_at
/// alone: an admin's PUT bumps it past disabled_at, which is how the sender learns the webhook is enabled again.
/// </summary>
public sealed class WebhookDisabledConsumer(NpgsqlDataSource db) : IConsumer<WebhookDisabled>
{
    public async Task Consume(ConsumeContext<WebhookDisabled> context)
    {
        var m = context.Message;
        await using var c = await db.OpenConnectionAsync(context.CancellationToken);
        await using var tx = await c.BeginTransactionAsync(context.CancellationToken);
        if (context.MessageId is { } messageId && !await Inbox.TryBeginAsync(c, tx, Extensions.Schema, nameof(WebhookDisabledConsumer), messageId))
            return;
        await c.ExecuteAsync(
            """
            update control.webhooks set disabled_at = @DisabledAt, disabled_reason = left(@Reason, 1000)
            where id = @WebhookId and disabled_at is null and updated_at <= @DisabledAt
            """, new { m.WebhookId, m.DisabledAt, m.Reason }, tx);
        await tx.CommitAsync(context.CancellationToken);
    }
}
