using System.Net;
using Dapper;
using OpenQA.Selenium;
using static Automations.Console.Tests.OpsSteps;

namespace Automations.Console.Tests;

/// <summary>Team settings · Alerts in the console of its own: thresholds and channel (admins), and a webhook's incidents.</summary>
[Collection("browser")]
public class Configuring_alerts_in_the_console(TeamSettingsFixture fx) : IClassFixture<TeamSettingsFixture>
{
    private Browser B => fx.Browser;

    [Fact]
    public async Task Should_save_a_channel_and_thresholds_after_errors_shown_at_their_fields_in_the_form_s_words()
    {
        var integration = Unique("ops alerts ");
        await fx.CreateAsync("/v1/entities/acme/integrations", new { name = integration, kind = "slack", url = "https://hooks.slack.com/services/T000/B000/alertsalertsalerts1" });
        var hook = Unique("ops hook ");
        var hookId = (await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url("/ops") })).GetProperty("id").GetString()!;

        B.SignInToConsole(fx.AdminKey);
        B.FollowLink("nav[aria-label=Main] a[href='/acme/settings/alerts']", "/acme/settings/alerts", "form#alerts");
        Assert.Equal("/acme/settings/alerts", B.Path0);
        Assert.Contains(integration + " · Slack", B.Text("#alert-channel"));
        Assert.Contains(hook, B.Text("#alert-channel optgroup[label=Webhooks]"));
        B.AssertEveryInputLabelled();
        B.Screenshot("settings-alerts");

        B.ChooseValue("#alert-channel", hookId);
        B.Fill("#alert-failures", "0");
        B.Fill("#alert-failing-for", "PT2H");
        B.Fill("#alert-disable-after", "PT1H");
        B.Submit("#alerts button[type=submit]");
        Assert.Equal("/acme/settings/alerts", B.Path0);
        Assert.Equal("Consecutive failures must be between 1 and 1000", B.Text("#alert-failures-error"));
        var disable = B.Text("#alert-disable-after-error");
        Assert.StartsWith("Disable after must be at least Failing for (PT2H)", disable);
        Assert.DoesNotContain("failingFor", B.Find("main").Text);
        Assert.Empty(B.FindAll("#alert-failing-for-error"));
        Assert.Equal("true", B.Find("#alert-disable-after").GetAttribute("aria-invalid"));
        Assert.Equal("PT1H", B.Find("#alert-disable-after").GetAttribute("value"));
        Assert.Equal(hookId, B.Find("#alert-channel").GetAttribute("value"));
        Assert.Equal("Please correct the 2 fields marked below.", B.Text("#alerts-message"));
        Assert.Single(B.FindAll(".message"));
        B.Screenshot("settings-alerts-errors");

        // Keyboard only from here: Tab to the field, select its text, type, Enter saves.
        B.TabTo("alert-failures");
        B.Retype("3");
        B.TabTo("alert-disable-after");
        B.Retype("P5D");
        B.Submit(B.Focused(), Keys.Enter);
        Assert.Equal("/acme/settings/alerts", B.Path0);
        Assert.Equal($"Alert settings saved; alerts go to {hook}.", B.Text("#alerts-message"));
        Assert.Single(B.FindAll(".message"));
        Assert.Equal("3", B.Find("#alert-failures").GetAttribute("value"));
        Assert.Equal("P5D", B.Find("#alert-disable-after").GetAttribute("value"));
        Assert.StartsWith("Last changed ", B.Text("#alerts-state"));

        using var settings = await fx.CallAsync(HttpMethod.Get, "/v1/entities/acme/alerts");
        var saved = await settings.Content.ReadAsStringAsync();
        Assert.Contains("\"consecutiveFailures\":3", saved);
        Assert.Contains($"\"channel\":\"{hookId}\"", saved);
        B.Driver.Navigate().Refresh();
        Assert.Empty(B.FindAll(".message"));
    }

    [Fact]
    public async Task Should_list_a_webhook_s_incidents_opened_recovered_and_disabled_from_the_picker()
    {
        var hook = Unique("flaky ");
        var id = (await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url("/flaky") })).GetProperty("id").GetGuid();
        // As the WebhookSender records them: one recovered after it was disabled, one open now.
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            await c.ExecuteAsync(
                """
                insert into delivery.incidents (id, entity, webhook_id, failing_since, opened_at, reason, closed_at, disabled_at, disabled_reason) values
                (gen_random_uuid(), 'acme', @id, now() - interval '6 days', now() - interval '5 days 20 hours', '5 deliveries in a row failed every attempt',
                 now() - interval '1 day', now() - interval '1 day 2 hours', 'no attempt succeeded for more than 5 days'),
                (gen_random_uuid(), 'acme', @id, now() - interval '3 hours', now() - interval '2 hours', 'no attempt succeeded for more than 1 hour', null, null, null)
                """, new { id });

        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/alerts");
        B.ChooseValue("#incident-webhook", id.ToString());
        B.ClickAndWait("#incident-picker button[type=submit]");
        Assert.Equal("/acme/settings/alerts/incidents", B.Path0);
        Assert.Equal($"?webhook={id}", new Uri(B.Driver.Url).Query);
        Assert.Equal($"Incidents of {hook}", B.Text("#incidents-h"));
        var rows = B.FindAll("#incidents tbody tr");
        Assert.Equal(2, rows.Count);
        Assert.Contains("no attempt succeeded for more than 1 hour", rows[0].Text);
        Assert.Equal("open", rows[0].FindElement(By.CssSelector(".recovered")).Text);
        Assert.EndsWith("UTC", rows[1].FindElement(By.CssSelector(".recovered")).Text);
        Assert.Contains("no attempt succeeded for more than 5 days", rows[1].FindElement(By.CssSelector(".disabled")).Text);
        Assert.Equal(id.ToString(), B.Find("#incident-webhook").GetAttribute("value"));
        B.AssertEveryInputLabelled();
        B.Screenshot("settings-alerts-incidents");

        // Disabled (as the sender does after disableAfter): an admin enables it here, sending again what failed.
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            await c.ExecuteAsync("update control.webhooks set disabled_at = now(), disabled_reason = 'no attempt succeeded for more than 5 days' where id = @id", new { id });
        B.Driver.Navigate().Refresh();
        Assert.Contains("disabled", B.Text("#incident-webhook-state"));
        B.Find("#enable-redeliver").Click();
        B.Submit("#enable-webhook button[type=submit]");
        Assert.Equal($"?webhook={id}", new Uri(B.Driver.Url).Query);
        Assert.StartsWith($"{hook} is enabled: automations send to it again.", B.Text("#incident-webhook-message"));
        Assert.Single(B.FindAll(".message"));
        Assert.Equal("active", B.Text("#incident-webhook-state .badge"));
        Assert.Empty(B.FindAll("#enable-webhook"));

        using var admin = fx.ConsoleClient(B.Cookies());
        using (var unknown = await admin.GetAsync($"/acme/settings/alerts/incidents?webhook={Guid.NewGuid()}"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
            Assert.Contains("There is no such webhook or integration in this team", await unknown.Content.ReadAsStringAsync());
        }
        B.Go("/acme/settings/alerts/incidents?webhook=%27%20or%201%3D1");
        Assert.Contains("choose one of the list", B.Text("#incident-webhook-error"));
        Assert.Empty(B.FindAll("#incidents"));

        // Members read incidents (as the Api lets them) but not the settings.
        B.SignInToConsole(fx.MemberKey);
        Assert.Empty(B.FindAll("nav[aria-label=Main] a[href='/acme/settings/alerts']"));
        using var member = fx.ConsoleClient(B.Cookies());
        using (var settings = await member.GetAsync("/acme/settings/alerts"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, settings.StatusCode);
            var page = await settings.Content.ReadAsStringAsync();
            Assert.Contains("Only team admins can see and change the alert settings.", page);
            Assert.DoesNotContain("id=\"alerts\"", page);
        }
        B.Go($"/acme/settings/alerts/incidents?webhook={id}");
        Assert.Equal(2, B.FindAll("#incidents tbody tr").Count);
        using var other = await member.GetAsync("/globex/settings/alerts");
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }
}
