using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Templates;
using Automations.WebhookSender.Sending;
using MassTransit;

namespace Automations.WebhookSender.WebhookTests;

/// <summary>
/// Answers a TestWebhook request: one request through the same renderer, signer and SSRF guard, never retried, never
/// stored. The payload is the admin's own template (no event): sealed first, so `${NAME}` is a secret and `$${` a literal `${`.
/// </summary>
public sealed class TestWebhookConsumer(WebhookDirectory webhooks, WebhookClient client) : IConsumer<TestWebhook>
{
    public async Task Consume(ConsumeContext<TestWebhook> context)
    {
        var m = context.Message;
        // Read afresh: an admin tests the webhook as just saved.
        var webhook = await webhooks.LoadAsync(m.WebhookId, context.CancellationToken);
        if (webhook is null || webhook.Entity != m.Entity)
        {
            await context.RespondAsync(Answer(SendResult.Refused("the webhook does not exist")));
            return;
        }
        string payload;
        try
        {
            payload = PayloadTemplate.Render(m.Payload, _ => null);
        }
        catch (JsonException ex)
        {
            await context.RespondAsync(Answer(SendResult.Refused($"the payload is not valid JSON: {ex.Message}")));
            return;
        }
        var request = await webhooks.PrepareAsync(webhook, Guid.NewGuid(), payload, SendWebhook.SealedPayload, context.CancellationToken);
        await context.RespondAsync(Answer(await client.SendAsync(request, context.CancellationToken)));
    }

    private static WebhookTestResult Answer(SendResult r) =>
        new(r.Success, r.StatusCode, r.ResponseHeaders, r.ResponseBody, r.DurationMs, r.Error, r.RequestUrl, r.RequestHeaders, r.RequestBody, r.ResponseTruncated);
}
