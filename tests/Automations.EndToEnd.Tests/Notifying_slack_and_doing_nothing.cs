using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Automations.Testing;
using Dapper;

namespace Automations.EndToEnd.Tests;

/// <summary>The pipeline of <see cref="PipelineFixture"/> with retries a second apart, so a failed first attempt is retried within the test.</summary>
public sealed class QuickRetryPipelineFixture : PipelineFixture
{
    public override Dictionary<string, string?> ServiceConfiguration()
    {
        var config = base.ServiceConfiguration();
        config["Webhooks:RetrySchedule"] = "00:00:01,00:00:01,00:00:01";
        return config;
    }
}

/// <summary>
/// Artifact events through every service to the two actions that are not webhooks: a no-op (a finished run, nothing
/// sent) and a Slack notification (Block Kit to an incoming-webhook URL kept secret, retried and redelivered as a
/// webhook). The receiver plays Slack: it answers 200 "ok".
/// </summary>
public class Notifying_slack_and_doing_nothing(QuickRetryPipelineFixture fx) : IClassFixture<QuickRetryPipelineFixture>
{
    private const string Automations = "/v1/entities/acme/projects/mnist/automations";

    private async Task SendEventAsync(string eventType, string collection, string? alias = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events")
        {
            Content = JsonContent.Create(new
            {
                eventId = Guid.NewGuid().ToString(), eventType, entity = "acme", project = "mnist", collection,
                versionId = "QXJ0aWZhY3Q6NTE3ODg5ODg3", versionIndex = 4, alias, author = "jane", occurredAt = DateTimeOffset.UtcNow,
            }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fx.AdminKey);
        using var response = await fx.Ingestion.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    private async Task<Guid> CreateAutomationAsync(HttpClient api, object body)
    {
        using var created = await api.PostAsJsonAsync(Automations, body);
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await fx.RulesSawChangeAsync(id);
        return id;
    }

    private static async Task<JsonElement> RunsAsync(HttpClient api, Guid automationId) =>
        (await api.GetFromJsonAsync<JsonElement>($"{Automations}/{automationId}/runs")).GetProperty("runs");

    [Fact]
    public async Task Should_record_a_finished_run_and_send_nothing_for_a_no_op()
    {
        using var api = fx.ApiClient();
        var id = await CreateAutomationAsync(api, new
        {
            name = "try-the-trigger", @event = new { type = "CREATE_ARTIFACT", collection = "noop-set" }, action = new { type = "no_op" },
        });
        var before = fx.Receiver.Requests.Count;

        await SendEventAsync("CREATE_ARTIFACT", "noop-set");

        await Eventually.TrueAsync(async () => (await RunsAsync(api, id)).GetArrayLength() == 1, "the no-op run is recorded", TimeSpan.FromSeconds(30));
        var run = (await RunsAsync(api, id))[0];
        Assert.Equal("Finished", run.GetProperty("status").GetString());
        Assert.Contains("nothing was sent", run.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal("no_op", run.GetProperty("action").GetProperty("type").GetString());
        Assert.NotEqual(JsonValueKind.Null, run.GetProperty("finishedAt").ValueKind);

        // Nothing left Rules for it: the run names no command a worker could have taken, no delivery, no request.
        Assert.True(!run.TryGetProperty("payload", out var payload) || payload.ValueKind == JsonValueKind.Null, run.GetRawText());
        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("select count(*) from delivery.deliveries where automation_id = @id", new { id }));
        Assert.Equal(before, fx.Receiver.Requests.Count);
    }

    [Fact]
    public async Task Should_post_block_kit_to_slack_retry_a_500_keep_the_history_and_redeliver_by_hand()
    {
        using var api = fx.ApiClient();
        const string token = "xoxTESTsecretPART0123456789";
        var path = $"/services/T0TEST/B0TEST/{token}";
        fx.Receiver.Respond(path, Receiver.FailFirst(1, 500));
        using var integration = await api.PostAsJsonAsync("/v1/entities/acme/integrations", new { name = "ml-alerts", kind = "slack", url = fx.Receiver.Url(path) });
        Assert.Equal(HttpStatusCode.Created, integration.StatusCode);
        var integrationJson = await integration.Content.ReadAsStringAsync();
        Assert.DoesNotContain(token, integrationJson, StringComparison.Ordinal);
        var integrationId = JsonDocument.Parse(integrationJson).RootElement.GetProperty("id").GetGuid();
        var id = await CreateAutomationAsync(api, new
        {
            name = "alert-on-production",
            @event = new { type = "ADD_ARTIFACT_ALIAS", collection = "slack-set", aliasRegex = "^production$" },
            action = new { type = "notification", integration = "ml-alerts", title = "New ${artifact_collection_name} in production", text = "*${artifact_version_string}* by ${event_author}", severity = "error" },
        });

        await SendEventAsync("ADD_ARTIFACT_ALIAS", "slack-set", alias: "production");

        // Slack's answer: 500 once, then 200 "ok" on the retry a second later.
        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(path).Count >= 2), "the notification is retried after the 500", TimeSpan.FromSeconds(60));
        var (first, second) = (fx.Receiver.On(path)[0], fx.Receiver.On(path)[1]);
        Assert.Equal(first.BodyText, second.BodyText);
        Assert.Equal(first.Header("webhook-id"), second.Header("webhook-id"));
        using (var message = JsonDocument.Parse(second.Body))
        {
            var m = message.RootElement;
            Assert.Equal(":rotating_light: New slack-set in production", m.GetProperty("text").GetString());
            var blocks = m.GetProperty("blocks");
            Assert.Equal(("header", ":rotating_light: New slack-set in production"), (blocks[0].GetProperty("type").GetString(), blocks[0].GetProperty("text").GetProperty("text").GetString()));
            Assert.Equal(("section", "*acme/mnist/slack-set:production* by jane"), (blocks[1].GetProperty("type").GetString(), blocks[1].GetProperty("text").GetProperty("text").GetString()));
            Assert.Equal("context", blocks[2].GetProperty("type").GetString());
            Assert.Equal(":rotating_light: *ERROR* · alert-on-production · acme/mnist", blocks[2].GetProperty("elements")[0].GetProperty("text").GetString());
        }
        Assert.Equal("application/json", second.Header("content-type")?.Split(';')[0]);
        Assert.Null(second.Header("x-wandb-signature"));

        // The run finishes; the delivery history shows both attempts, and no answer shows the URL's secret part.
        await Eventually.TrueAsync(async () => (await RunsAsync(api, id)) is { } runs && runs.GetArrayLength() == 1 && runs[0].GetProperty("status").GetString() == "Finished",
            "the notification run is Finished", TimeSpan.FromSeconds(30));
        var deliveriesText = await api.GetStringAsync($"/v1/entities/acme/webhooks/{integrationId}/deliveries");
        var delivery = JsonDocument.Parse(deliveriesText).RootElement.EnumerateArray().Single();
        Assert.Equal(("succeeded", 2), (delivery.GetProperty("status").GetString(), delivery.GetProperty("attempts").GetInt32()));
        var deliveryId = delivery.GetProperty("id").GetGuid();
        var detailText = await api.GetStringAsync($"/v1/entities/acme/deliveries/{deliveryId}");
        var log = JsonDocument.Parse(detailText).RootElement.GetProperty("attemptLog");
        Assert.Equal(new int?[] { 500, 200 }, log.EnumerateArray().Select(a => (int?)a.GetProperty("statusCode").GetInt32()).ToArray());

        // Redelivery by hand: the same message again, same webhook-id, logged as a manual attempt.
        using (var redeliver = await api.PostAsync($"/v1/entities/acme/deliveries/{deliveryId}/redeliver", null))
            Assert.Equal(HttpStatusCode.Accepted, redeliver.StatusCode);
        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(path).Count >= 3), "the redelivery reaches Slack", TimeSpan.FromSeconds(30));
        var third = fx.Receiver.On(path)[2];
        Assert.Equal((second.BodyText, second.Header("webhook-id")), (third.BodyText, third.Header("webhook-id")));
        await Eventually.TrueAsync(async () =>
        {
            var d = await api.GetFromJsonAsync<JsonElement>($"/v1/entities/acme/deliveries/{deliveryId}");
            var attempts = d.GetProperty("attemptLog");
            return d.GetProperty("status").GetString() == "succeeded" && attempts.GetArrayLength() == 3 && attempts[2].GetProperty("manual").GetBoolean();
        }, "the manual attempt is recorded", TimeSpan.FromSeconds(30));

        // The URL's secret part is nowhere it could leak: API answers, stored attempts and deliveries, spans.
        foreach (var text in new[] { deliveriesText, detailText, await api.GetStringAsync($"{Automations}/{id}/runs"), await api.GetStringAsync("/v1/entities/acme/integrations") })
            Assert.DoesNotContain(token, text, StringComparison.Ordinal);
        await using (var c = await fx.DataSource.OpenConnectionAsync())
        {
            var stored = await c.QueryAsync<string>(
                """
                select row_to_json(d)::text from delivery.deliveries d where webhook_id = @integrationId
                union all select row_to_json(a)::text from delivery.attempts a join delivery.deliveries d on d.id = a.delivery_id where d.webhook_id = @integrationId
                union all select row_to_json(w)::text from control.webhooks w where id = @integrationId
                """, new { integrationId });
            Assert.All(stored, row => Assert.DoesNotContain(token, row, StringComparison.Ordinal));
        }
        var outgoing = fx.Spans.Stopped.Where(s => s.Source.Name == "System.Net.Http").ToList();
        Assert.Contains(outgoing, s => s.GetTagItem("url.full")?.ToString()?.StartsWith(fx.Receiver.BaseAddress.ToString(), StringComparison.Ordinal) == true);
        // Every span of this process but the receiver's own (it plays Slack: the path is its to see).
        var ours = fx.Spans.Stopped.Where(s => !(s.Kind == System.Diagnostics.ActivityKind.Server &&
            (s.GetTagItem("url.path")?.ToString() ?? s.DisplayName).Contains("/services/", StringComparison.Ordinal)));
        Assert.All(ours, s =>
        {
            Assert.DoesNotContain(token, s.DisplayName, StringComparison.Ordinal);
            Assert.DoesNotContain(s.TagObjects, t => t.Value?.ToString()?.Contains(token, StringComparison.Ordinal) == true);
        });
    }
}
