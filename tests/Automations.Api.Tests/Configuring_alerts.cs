using System.Net;

namespace Automations.Api.Tests;

/// <summary>Operational alerts' settings (admins only), a webhook's incidents and re-enabling it (docs/alerts.md).</summary>
public class Configuring_alerts(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private const string Alerts = "/v1/entities/acme/alerts";

    private async Task<Guid> WebhookAsync()
    {
        var created = await fx.PostAsync("/v1/entities/acme/webhooks", new { name = "ops-" + Guid.NewGuid().ToString("N")[..6], url = "https://hooks.example.com/ops" });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        return created.Body.GetProperty("id").GetGuid();
    }

    [Fact]
    public async Task Should_show_the_defaults_then_keep_what_an_admin_saves()
    {
        var channel = await WebhookAsync();
        var saved = await fx.PutAsync(Alerts, new { consecutiveFailures = 3, failingFor = "PT2H", disableAfter = "P3D", channel });
        Assert.True(saved.Status == HttpStatusCode.OK, saved.Text);
        var read = await fx.GetAsync(Alerts);
        Assert.Equal(HttpStatusCode.OK, read.Status);
        Assert.Equal(3, read.Body.GetProperty("consecutiveFailures").GetInt32());
        Assert.Equal("PT2H", read.Body.GetProperty("failingFor").GetString());
        Assert.Equal("P3D", read.Body.GetProperty("disableAfter").GetString());
        Assert.Equal(channel, read.Body.GetProperty("channel").GetGuid());
        Assert.False(read.Body.GetProperty("defaults").GetBoolean());

        // No channel: alerts are recorded as incidents only.
        var none = await fx.PutAsync(Alerts, new { consecutiveFailures = 5, failingFor = "06:00:00", disableAfter = "P5D" });
        Assert.Equal(HttpStatusCode.OK, none.Status);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, none.Body.GetProperty("channel").ValueKind);
        Assert.Equal("PT6H", none.Body.GetProperty("failingFor").GetString());

        // Both saves are in the audit trail, with the settings before and after.
        var trail = await fx.GetAsync("/v1/entities/acme/audit?kind=alert_settings");
        Assert.Equal(HttpStatusCode.OK, trail.Status);
        var entries = trail.Body.GetProperty("entries").EnumerateArray().ToList();
        Assert.True(entries.Count >= 2, trail.Text);
        Assert.All(entries, e => Assert.Equal("update", e.GetProperty("action").GetString()));
    }

    [Theory]
    [InlineData("""{"failingFor":"PT6H","disableAfter":"P5D"}""", "consecutiveFailures")]
    [InlineData("""{"consecutiveFailures":0,"failingFor":"PT6H","disableAfter":"P5D"}""", "consecutiveFailures")]
    [InlineData("""{"consecutiveFailures":5,"failingFor":"six hours","disableAfter":"P5D"}""", "failingFor")]
    [InlineData("""{"consecutiveFailures":5,"failingFor":"PT1S","disableAfter":"P5D"}""", "failingFor")]
    [InlineData("""{"consecutiveFailures":5,"failingFor":"PT6H","disableAfter":"P365D"}""", "disableAfter")]
    [InlineData("""{"consecutiveFailures":5,"failingFor":"P2D","disableAfter":"P1D"}""", "disableAfter")]
    [InlineData("""{"consecutiveFailures":5,"failingFor":"PT6H","disableAfter":"P5D","channel":"0191a0e0-0000-7000-8000-000000000000"}""", "channel")]
    [InlineData("""{"consecutiveFailures":5,"failingFor":"PT6H","disableAfter":"P5D","channel":"not-an-id"}""", "channel")]
    [InlineData("""{"consecutiveFailures":"five","failingFor":"PT6H","disableAfter":"P5D"}""", "consecutiveFailures")]
    public async Task Should_refuse_invalid_settings_naming_the_field(string body, string field)
    {
        var answer = await fx.PutAsync(Alerts, System.Text.Json.JsonDocument.Parse(body).RootElement);
        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.NotEmpty(ApiFixture.ErrorsOf(answer.Body, field));
    }

    [Fact]
    public async Task Should_let_only_admins_read_or_change_the_settings()
    {
        Assert.Equal(HttpStatusCode.Forbidden, (await fx.GetAsync(Alerts, fx.MemberKey)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await fx.PutAsync(Alerts, new { consecutiveFailures = 5, failingFor = "PT6H", disableAfter = "P5D" }, fx.MemberKey)).Status);
        var webhook = await WebhookAsync();
        Assert.Equal(HttpStatusCode.Forbidden, (await fx.PostAsync($"/v1/entities/acme/webhooks/{webhook}/enable", new { }, fx.MemberKey)).Status);
        // Members may read a webhook's incidents, as its deliveries.
        var incidents = await fx.GetAsync($"/v1/entities/acme/webhooks/{webhook}/incidents", fx.MemberKey);
        Assert.Equal(HttpStatusCode.OK, incidents.Status);
        Assert.Equal(0, incidents.Body.GetArrayLength());
    }

    [Fact]
    public async Task Should_enable_a_webhook_and_refuse_a_redelivery_it_cannot_place()
    {
        var webhook = await WebhookAsync();
        var enabled = await fx.PostAsync($"/v1/entities/acme/webhooks/{webhook}/enable", new { });
        Assert.Equal(HttpStatusCode.OK, enabled.Status);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, enabled.Body.GetProperty("redelivery").ValueKind);

        var noIncident = await fx.PostAsync($"/v1/entities/acme/webhooks/{webhook}/enable", new { redeliverFailed = true });
        Assert.Equal(HttpStatusCode.BadRequest, noIncident.Status);
        Assert.NotEmpty(ApiFixture.ErrorsOf(noIncident.Body, "redeliverFailed"));
        var both = await fx.PostAsync($"/v1/entities/acme/webhooks/{webhook}/enable", new { redeliverFailed = true, redeliverFailedSince = "2026-12-01T00:00:00Z" });
        Assert.Equal(HttpStatusCode.BadRequest, both.Status);
        var since = await fx.PostAsync($"/v1/entities/acme/webhooks/{webhook}/enable", new { redeliverFailedSince = "2026-12-01T00:00:00Z" });
        Assert.Equal(HttpStatusCode.OK, since.Status);
        Assert.Equal(0, since.Body.GetProperty("redelivery").GetProperty("deliveries").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, (await fx.PostAsync($"/v1/entities/acme/webhooks/{Guid.NewGuid()}/enable", new { })).Status);
        var trail = await fx.GetAsync($"/v1/entities/acme/audit?kind=webhook&action=enable&target={webhook}");
        Assert.Equal(HttpStatusCode.OK, trail.Status);
        Assert.Equal(2, trail.Body.GetProperty("entries").GetArrayLength());
    }
}
