using Automations.Contracts;
using Automations.Persistence.Control;
using Automations.WebhookSender.Sending;
using MassTransit;
using Npgsql;

namespace Automations.WebhookSender.Testing;

/// <summary>Answers a TestWebhook request: one request through the same renderer, signer and SSRF guard, never retried, never stored.</summary>
public sealed class TestWebhookConsumer(WebhookClient client, NpgsqlDataSource dataSource) : IConsumer<TestWebhook>
{
    public async Task Consume(ConsumeContext<TestWebhook> context)
    {
        var m = context.Message;
        WebhookTarget? webhook;
        await using (var connection = await dataSource.OpenConnectionAsync(context.CancellationToken))
            webhook = await WebhookQueries.FindAsync(connection, m.WebhookId, context.CancellationToken);
        if (webhook is null || webhook.Entity != m.Entity)
        {
            await context.RespondAsync(new WebhookTestResult(false, null, new Dictionary<string, string>(), null, 0, "the webhook does not exist",
                "", new Dictionary<string, string>(), ""));
            return;
        }
        var r = await client.SendAsync(webhook, Guid.NewGuid(), m.Payload, context.CancellationToken);
        await context.RespondAsync(new WebhookTestResult(r.Success, r.StatusCode, r.ResponseHeaders, r.ResponseBody, r.DurationMs, r.Error,
            r.RequestUrl, r.RequestHeaders, r.RequestBody));
    }
}
