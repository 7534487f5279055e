using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Templates;
using Automations.Persistence.Control;
using Automations.WebhookSender.Sending;
using MassTransit;
using Npgsql;

namespace Automations.WebhookSender.WebhookTests;

/// <summary>
/// Answers a TestWebhook request: one request through the same renderer, signer and SSRF guard, never retried, never
/// stored. The payload is the admin's own template (no event): sealed first, so `${NAME}` is a secret and `$${` a literal `${`.
/// </summary>
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
            await context.RespondAsync(Refused("the webhook does not exist"));
            return;
        }
        string payload;
        try
        {
            payload = PayloadTemplate.Render(m.Payload, _ => null);
        }
        catch (JsonException ex)
        {
            await context.RespondAsync(Refused($"the payload is not valid JSON: {ex.Message}"));
            return;
        }
        var r = await client.SendAsync(webhook, Guid.NewGuid(), payload, SendWebhook.SealedPayload, context.CancellationToken);
        await context.RespondAsync(new WebhookTestResult(r.Success, r.StatusCode, r.ResponseHeaders, r.ResponseBody, r.DurationMs, r.Error,
            r.RequestUrl, r.RequestHeaders, r.RequestBody, r.ResponseTruncated));
    }

    private static WebhookTestResult Refused(string error) =>
        new(false, null, new Dictionary<string, string>(), null, 0, error, "", new Dictionary<string, string>(), "");
}
