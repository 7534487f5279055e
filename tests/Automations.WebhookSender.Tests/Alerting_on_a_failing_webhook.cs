using System.Net;
using System.Text.Json;
using Automations.Contracts;
using Automations.Testing;
using Dapper;
using Microsoft.AspNetCore.Http;

namespace Automations.WebhookSender.Tests;

/// <summary>The Api and the sender, with windows of seconds instead of hours (Alerts:MinimumWindow) and a short control cache.</summary>
public class AlertsFixture : ApiAndSenderFixture
{
    public override Dictionary<string, string?> ServiceConfiguration()
    {
        var config = base.ServiceConfiguration();
        config["Alerts:MinimumWindow"] = "00:00:01";
        config["Webhooks:ControlCacheTtl"] = "00:00:00.200";
        return config;
    }

    /// <summary>A Slack integration made through the Api (its URL kept encrypted, as always).</summary>
    public async Task<Guid> AddSlackIntegrationAsync(string url)
    {
        var body = JsonSerializer.Serialize(new { name = "ops-" + Guid.NewGuid().ToString("N")[..8], kind = "slack", url });
        using var response = await SendAsync(HttpMethod.Post, "/v1/entities/acme/integrations", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetGuid();
    }
}

/// <summary>
/// Issue 24's operational alerts, on the real broker and database: an incident opens once, closes once, and disables
/// the webhook after the window; enabling it redelivers what failed meanwhile. The alert bodies the channels received
/// are written under the test output (alert-examples/) for docs/alerts.md.
/// </summary>
public class Alerting_on_a_failing_webhook(AlertsFixture fx) : IClassFixture<AlertsFixture>
{
    private static readonly string Examples = Path.Combine(AppContext.BaseDirectory, "alert-examples");

    private sealed class Switch
    {
        public volatile bool Failing = true;
    }

    private void AddSwitchedWebhookPath(string path, Switch state)
    {
        fx.Receiver.Respond(path, async (ctx, _) =>
        {
            ctx.Response.StatusCode = state.Failing ? 500 : 200;
            await ctx.Response.WriteAsync(state.Failing ? "down" : "ok");
        });
    }

    private async Task PutSettingsAsync(string body)
    {
        using var response = await fx.SendAsync(HttpMethod.Put, "/v1/entities/acme/alerts", body);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        await Task.Delay(500); // the sender's control cache (200 ms here)
    }

    /// <summary>The alerts a channel received about one webhook, by change, as (change, body).</summary>
    private List<(string Change, string Body)> GenericAlerts(string channelPath, Guid webhook) =>
        fx.Receiver.On(channelPath).Select(r => r.BodyText)
            .Select(b => (Doc: JsonDocument.Parse(b).RootElement, Body: b))
            .Where(x => x.Doc.GetProperty("webhook").GetProperty("id").GetGuid() == webhook)
            .Select(x => (x.Doc.GetProperty("type").GetString()!["webhook.incident.".Length..], x.Body))
            .ToList();

    private static void Save(string name, string body)
    {
        Directory.CreateDirectory(Examples);
        File.WriteAllText(Path.Combine(Examples, name), body);
    }

    private async Task<int> CountDeliveriesAsync(Guid webhook)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<int>("select count(*) from delivery.deliveries where webhook_id = @webhook", new { webhook });
    }

    [Fact]
    public async Task Should_alert_once_when_the_incident_opens_and_once_when_it_recovers()
    {
        var channelPath = "/ops-hook/" + Guid.NewGuid().ToString("N");
        var channel = await fx.AddWebhookAsync(fx.Receiver.Url(channelPath), secret: "alert-signing-secret");
        var failingPath = "/failing/" + Guid.NewGuid().ToString("N");
        var state = new Switch();
        AddSwitchedWebhookPath(failingPath, state);
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(failingPath));
        await PutSettingsAsync($$"""{"consecutiveFailures":3,"failingFor":"PT1H","disableAfter":"PT2H","channel":"{{channel}}"}""");

        // Three deliveries whose every attempt fails: one incident, one "opened" alert.
        var commands = Enumerable.Range(0, 3).Select(_ => SenderFixture.Command(webhook)).ToList();
        foreach (var c in commands) await fx.PublishAsync(c);
        foreach (var c in commands) await fx.WaitForStatusAsync(c.CommandId, "failed");
        await Eventually.TrueAsync(() => Task.FromResult(GenericAlerts(channelPath, webhook).Count >= 1), "the opened alert reached the channel");

        // More failures, the same command again, and the same alert message again: nothing more.
        var more = SenderFixture.Command(webhook);
        await fx.PublishAsync(more);
        await fx.WaitForStatusAsync(more.CommandId, "failed");
        await fx.PublishAsync(commands[0]);
        var deliveries = await CountDeliveriesAsync(webhook);
        Guid alertId, incidentId;
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            (alertId, incidentId) = await c.QuerySingleAsync<(Guid, Guid)>(
                "select command_id, run_id from delivery.deliveries where webhook_id = @channel", new { channel });
        await fx.PublishAsync(new WebhookIncidentChanged(alertId, incidentId, webhook, "acme", IncidentChanges.Opened, DateTimeOffset.UtcNow));
        await Task.Delay(2_000);
        var opened = Assert.Single(GenericAlerts(channelPath, webhook));
        Assert.Equal("opened", opened.Change);
        Assert.Equal(deliveries, await CountDeliveriesAsync(webhook));
        var request = Assert.Single(fx.Receiver.On(channelPath));
        Assert.NotNull(request.Header("webhook-signature"));
        Assert.Contains("3 deliveries in a row failed every attempt", opened.Body, StringComparison.Ordinal);
        Save("webhook-opened.json", opened.Body);

        using (var response = await fx.SendAsync(HttpMethod.Get, $"/v1/entities/acme/webhooks/{webhook}/incidents"))
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var incident = Assert.Single(doc.RootElement.EnumerateArray().ToList());
            Assert.True(incident.GetProperty("open").GetBoolean());
            Assert.Equal(incidentId, incident.GetProperty("id").GetGuid());
        }

        // The endpoint recovers: one "recovered" alert, the incident closed.
        state.Failing = false;
        var ok = SenderFixture.Command(webhook);
        await fx.PublishAsync(ok);
        await fx.WaitForStatusAsync(ok.CommandId, "succeeded");
        await Eventually.TrueAsync(() => Task.FromResult(GenericAlerts(channelPath, webhook).Count >= 2), "the recovered alert reached the channel");
        var second = SenderFixture.Command(webhook);
        await fx.PublishAsync(second);
        await fx.WaitForStatusAsync(second.CommandId, "succeeded");
        await Task.Delay(1_000);
        var alerts = GenericAlerts(channelPath, webhook);
        Assert.Equal(["opened", "recovered"], alerts.Select(a => a.Change));
        Save("webhook-recovered.json", alerts[1].Body);
        using (var response = await fx.SendAsync(HttpMethod.Get, $"/v1/entities/acme/webhooks/{webhook}/incidents"))
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.False(Assert.Single(doc.RootElement.EnumerateArray().ToList()).GetProperty("open").GetBoolean());
        }
    }

    [Fact]
    public async Task Should_open_one_incident_when_two_senders_cross_the_threshold_together()
    {
        await using var second = await fx.StartSenderAsync();
        var channelPath = "/ops-hook-2/" + Guid.NewGuid().ToString("N");
        var channel = await fx.AddWebhookAsync(fx.Receiver.Url(channelPath));
        var failingPath = "/failing-2/" + Guid.NewGuid().ToString("N");
        AddSwitchedWebhookPath(failingPath, new Switch());
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(failingPath));
        await PutSettingsAsync($$"""{"consecutiveFailures":2,"failingFor":"PT1H","disableAfter":"PT2H","channel":"{{channel}}"}""");

        // Eight deliveries at once, shared by the two replicas: the threshold is crossed several times, in both.
        var commands = Enumerable.Range(0, 8).Select(_ => SenderFixture.Command(webhook)).ToList();
        foreach (var c in commands) await fx.PublishAsync(c);
        foreach (var c in commands) await fx.WaitForStatusAsync(c.CommandId, "failed");
        await Eventually.TrueAsync(() => Task.FromResult(GenericAlerts(channelPath, webhook).Count >= 1), "the opened alert reached the channel");
        await Task.Delay(2_000);
        Assert.Equal(["opened"], GenericAlerts(channelPath, webhook).Select(a => a.Change));
        await using var c2 = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await c2.ExecuteScalarAsync<int>("select count(*) from delivery.incidents where webhook_id = @webhook", new { webhook }));
        Assert.Equal(8, await c2.ExecuteScalarAsync<int>("select consecutive_failures from delivery.webhook_health where webhook_id = @webhook", new { webhook }));
    }

    [Fact]
    public async Task Should_disable_a_webhook_failing_past_the_window_and_redeliver_what_failed_once_enabled()
    {
        var slackPath = "/services/T0/B0/" + Guid.NewGuid().ToString("N");
        var slack = await fx.AddSlackIntegrationAsync(fx.Receiver.Url(slackPath));
        var failingPath = "/failing-long/" + Guid.NewGuid().ToString("N");
        var state = new Switch();
        AddSwitchedWebhookPath(failingPath, state);
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(failingPath));
        string name;
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            name = await c.ExecuteScalarAsync<string>("select name from control.webhooks where id = @webhook", new { webhook }) ?? "";
        await PutSettingsAsync($$"""{"consecutiveFailures":100,"failingFor":"PT1S","disableAfter":"PT3S","channel":"{{slack}}"}""");

        // Failing for longer than 3 s: the webhook is disabled, with the reason, and its later deliveries fail at once.
        var published = new List<SendWebhook>();
        await Eventually.TrueAsync(async () =>
        {
            var command = SenderFixture.Command(webhook);
            published.Add(command);
            await fx.PublishAsync(command);
            await fx.WaitForStatusAsync(command.CommandId, "failed");
            using var response = await fx.SendAsync(HttpMethod.Get, $"/v1/entities/acme/webhooks/{webhook}");
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return doc.RootElement.GetProperty("disabled").GetBoolean();
        }, "the webhook is disabled", TimeSpan.FromSeconds(60));
        using (var response = await fx.SendAsync(HttpMethod.Get, $"/v1/entities/acme/webhooks/{webhook}"))
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal("no attempt succeeded for more than 3 seconds", doc.RootElement.GetProperty("disabledReason").GetString());
        }
        var refused = SenderFixture.Command(webhook);
        published.Add(refused);
        await fx.PublishAsync(refused);
        Assert.Contains("the webhook is disabled", (await fx.WaitForStatusAsync(refused.CommandId, "failed")).LastError, StringComparison.Ordinal);

        List<string> SlackAlerts() => fx.Receiver.On(slackPath).Select(r => r.BodyText).Where(b => b.Contains($"'{name}'", StringComparison.Ordinal)).ToList();
        await Eventually.TrueAsync(() => Task.FromResult(SlackAlerts().Count >= 2), "the opened and disabled alerts reached Slack");
        await Task.Delay(1_000);
        var slackAlerts = SlackAlerts();
        Assert.Equal(2, slackAlerts.Count);
        Assert.Single(slackAlerts, b => b.Contains("is failing", StringComparison.Ordinal));
        var disabledAlert = Assert.Single(slackAlerts, b => b.Contains("was disabled", StringComparison.Ordinal));
        Save("slack-opened.json", slackAlerts.Single(b => b.Contains("is failing", StringComparison.Ordinal)));
        Save("slack-disabled.json", disabledAlert);

        // Enabled again with a redelivery of what failed during the incident: every failed delivery succeeds, one "recovered".
        state.Failing = false;
        using (var response = await fx.SendAsync(HttpMethod.Post, $"/v1/entities/acme/webhooks/{webhook}/enable", """{"redeliverFailed":true}"""))
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, text);
            using var doc = JsonDocument.Parse(text);
            Assert.Equal(published.Count, doc.RootElement.GetProperty("redelivery").GetProperty("deliveries").GetInt32());
            Save("enable-answer.json", text);
        }
        foreach (var c in published) await fx.WaitForStatusAsync(c.CommandId, "succeeded");
        await Eventually.TrueAsync(() => Task.FromResult(SlackAlerts().Count >= 3), "the recovered alert reached Slack");
        await Task.Delay(1_000);
        var recovered = Assert.Single(SlackAlerts(), b => b.Contains("recovered", StringComparison.Ordinal));
        Assert.Equal(3, SlackAlerts().Count);
        Save("slack-recovered.json", recovered);
        using (var response = await fx.SendAsync(HttpMethod.Get, $"/v1/entities/acme/webhooks/{webhook}/incidents"))
        {
            var text = await response.Content.ReadAsStringAsync();
            using var doc = JsonDocument.Parse(text);
            var incident = Assert.Single(doc.RootElement.EnumerateArray().ToList());
            Assert.False(incident.GetProperty("open").GetBoolean());
            Assert.Equal("no attempt succeeded for more than 3 seconds", incident.GetProperty("disabledReason").GetString());
            Save("incidents-answer.json", text);
        }
    }
}
