using System.Net;
using System.Net.Sockets;
using Automations.Testing;
using Dapper;
using OpenQA.Selenium;

namespace Automations.Console.Tests;

/// <summary>Team settings · Webhooks and Integrations in the console of its own (headless Chromium).</summary>
[Collection("browser")]
public class Managing_webhooks_in_the_console(TeamSettingsFixture fx) : IClassFixture<TeamSettingsFixture>
{
    private Browser B => fx.Browser;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6];

    private IWebElement Row(string table, string text) =>
        B.FindAll($"#{table} tbody tr").Single(r => r.Text.Contains(text, StringComparison.Ordinal));

    [Fact]
    public async Task Should_create_a_webhook_with_the_secret_drop_downs_then_edit_it_with_errors_at_the_fields()
    {
        var token = Unique("HOOK_TOKEN_").ToUpperInvariant();
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name = token, value = "token-value-1" });
        var hook = Unique("dispatch ");

        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/webhooks");
        B.Fill("#webhook-name", hook);
        B.Fill("#webhook-url", fx.Receiver.Url("/created"));
        B.ChooseValue("#webhook-token", token);
        B.Screenshot("settings-webhooks-new");
        B.Submit("#new-webhook button[type=submit]");

        Assert.Equal("/acme/settings/webhooks", B.Path0);
        var row = Row("webhooks", hook);
        Assert.Contains(token, row.Text);
        Assert.Equal($"Webhook {hook} created.", row.FindElement(By.CssSelector(".message.ok")).Text);
        Assert.Single(B.FindAll(".message"));
        B.Screenshot("settings-webhooks");

        // A secret that does not exist and a refused URL: each error under its own field, in the form's words.
        var editPath = $"/acme/settings/webhooks/{row.GetAttribute("id")!["webhook-".Length..]}";
        B.Follow(B.Driver.FindElement(By.CssSelector($"a[aria-label='Edit webhook {hook}']")), editPath);
        B.Fill("#webhook-url", "http://127.0.0.1/hook");
        B.Submit("#edit-webhook button[type=submit]");
        Assert.Equal(editPath, B.Path0);
        Assert.Contains("IP address", B.Text("#webhook-url-error"));
        Assert.Equal("true", B.Find("#webhook-url").GetAttribute("aria-invalid"));
        Assert.Equal("http://127.0.0.1/hook", B.Find("#webhook-url").GetAttribute("value"));
        Assert.Empty(B.FindAll("#webhook-name-error"));
        Assert.Single(B.FindAll("#edit-webhook .message.error"));
        Assert.DoesNotContain("/v1/", B.Find("main").Text);
        B.Screenshot("settings-webhook-edit-error");

        B.Fill("#webhook-url", fx.Receiver.Url("/edited"));
        B.Submit("#edit-webhook button[type=submit]");
        Assert.Equal("/acme/settings/webhooks", B.Path0);
        Assert.Contains("/edited", Row("webhooks", hook).Text);
        Assert.Contains("saved", Row("webhooks", hook).Text);
    }

    [Fact]
    public async Task Should_show_why_a_used_webhook_cannot_be_deleted_once_next_to_its_row()
    {
        var hook = Unique("used hook ");
        var created = await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url("/used-hook") });
        var id = created.GetProperty("id").GetString();
        var automation = Unique("notify-");
        await fx.CreateAsync("/v1/entities/acme/projects/mnist/automations", new
        {
            name = automation,
            @event = new { type = "CREATE_ARTIFACT", collection = "eval-set" },
            action = new { type = "webhook", webhook = hook, payload = "{\"a\": 1}" },
        });

        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/webhooks");
        B.Follow(B.Find($"#webhook-{id} a.button.danger"), "/acme/settings/webhooks");
        B.Submit("#confirm-delete-button");

        Assert.Equal("/acme/settings/webhooks", B.Path0);
        var message = Assert.Single(B.FindAll(".message"));
        Assert.Equal($"webhook-{id}-message", message.GetAttribute("id"));
        Assert.Contains(automation, message.Text);
        Assert.Empty(B.FindAll("#new-webhook .message, #new-webhook .error"));
        B.Screenshot("settings-webhooks-in-use");
        B.Driver.Navigate().Refresh();
        Assert.Empty(B.FindAll(".message"));
    }

    [Fact]
    public async Task Should_show_a_disabled_webhook_with_its_reason_and_enable_it()
    {
        var hook = Unique("gone hook ");
        var id = (await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url("/gone") })).GetProperty("id").GetGuid();
        // As the Api's WebhookDisabled consumer records a 410 Gone from the endpoint.
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            await c.ExecuteAsync("update control.webhooks set disabled_at = now(), disabled_reason = '410 Gone from the endpoint' where id = @id", new { id });

        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/webhooks");
        var row = B.Find($"#webhook-{id}");
        Assert.Contains("disabled", row.FindElement(By.CssSelector(".badge")).Text);
        Assert.Contains("410 Gone from the endpoint", row.FindElement(By.CssSelector(".disabled-reason")).Text);
        B.Screenshot("settings-webhooks-disabled");

        B.Submit(row.FindElement(By.CssSelector($"button[aria-label='Enable webhook {hook}']")));
        row = B.Find($"#webhook-{id}");
        Assert.Equal("active", row.FindElement(By.CssSelector(".badge")).Text);
        Assert.Contains("enabled", B.Text($"#webhook-{id}-message"));
    }

    [Fact]
    public async Task Should_test_a_webhook_and_show_the_response_and_the_request_with_secrets_masked()
    {
        var secret = Unique("TEST_TOKEN_").ToUpperInvariant();
        const string secretValue = "test-secret-value-77";
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name = secret, value = secretValue });
        var path = "/tested/" + Guid.NewGuid().ToString("N");
        var id = (await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = Unique("tested "), url = fx.Receiver.Url(path), accessToken = secret })).GetProperty("id").GetString();

        B.SignInToConsole(fx.AdminKey);
        B.Go($"/acme/settings/webhooks/{id}/test");
        // Not JSON: the error says where, in words, at the payload, and nothing is sent.
        B.SetValue("#payload", "{\"token\": $oops}");
        B.Submit("#test-webhook button[type=submit]");
        Assert.Contains("line 1, character 11", B.Text("#payload-error"));
        Assert.DoesNotContain("LineNumber", B.Source);
        Assert.DoesNotContain("BytePositionInLine", B.Source);
        Assert.Equal("{\"token\": $oops}", B.Find("#payload").GetAttribute("value"));
        Assert.Empty(fx.Receiver.On(path));

        B.SetValue("#payload", "{\"token\": \"${" + secret + "}\"}");
        B.Submit("#test-webhook button[type=submit]");
        Assert.Contains("?run=", B.Driver.Url);
        Assert.Equal("201", B.Text("#test-status"));
        Assert.Equal("success", B.Text("#test-outcome"));
        Assert.Equal("dispatched by the receiver", B.Text("#test-response-body"));
        Assert.Contains("********", B.Text("#test-request-body"));
        Assert.DoesNotContain(secretValue, B.Source);
        B.Screenshot("settings-webhook-test");
        Assert.Single(fx.Receiver.On(path));

        // The result page is a GET: a refresh shows it again and sends nothing.
        B.Driver.Navigate().Refresh();
        Assert.Equal("201", B.Text("#test-status"));
        Assert.Single(fx.Receiver.On(path));
    }

    [Fact]
    public async Task Should_say_clearly_when_the_tested_endpoint_cannot_be_reached()
    {
        // A port nothing listens on, on the machine's own name (which the test allow-list admits).
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var id = (await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = Unique("nowhere "), url = $"http://{LocalName.Value}:{port}/hook" })).GetProperty("id").GetString();

        B.SignInToConsole(fx.AdminKey);
        B.Go($"/acme/settings/webhooks/{id}/test");
        B.Submit("#test-webhook button[type=submit]");
        var message = B.Text("#test-unreachable");
        Assert.StartsWith("The endpoint could not be reached", message);
        Assert.Empty(B.FindAll("#test-status"));
        Assert.DoesNotContain("Status ·", B.Find("main").Text);
        Assert.Contains($":{port}/hook", B.Text("#test-request-url"));
        B.Screenshot("settings-webhook-test-unreachable");
    }

    [Fact]
    public async Task Should_let_a_member_read_webhooks_without_any_form()
    {
        var hook = Unique("read only ");
        var id = (await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url("/ro") })).GetProperty("id").GetString();
        B.SignInToConsole(fx.MemberKey);
        B.Go("/acme/settings/webhooks");
        Assert.Contains(hook, B.Text("#webhooks"));
        Assert.Empty(B.FindAll("main form"));
        Assert.Contains("Only team admins", B.Text("#members-note"));
        B.Screenshot("settings-webhooks-member");

        using var member = fx.ConsoleClient(B.Cookies());
        foreach (var page in new[] { $"/acme/settings/webhooks/{id}", $"/acme/settings/webhooks/{id}/test", "/acme/settings/integrations" })
        {
            using var answer = await member.GetAsync(page);
            if (answer.StatusCode == HttpStatusCode.InternalServerError) Assert.Fail(string.Join("\n", fx.Logs.Lines.Where(l => l.Contains("xception", StringComparison.Ordinal)).Take(3)));
            Assert.Equal(HttpStatusCode.Forbidden, answer.StatusCode);
            Assert.DoesNotContain("<form method=\"post\" data-enhance", await answer.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public void Should_create_a_slack_integration_shown_masked_and_delete_it()
    {
        var name = Unique("alerts ");
        const string url = "https://hooks.slack.com/services/T000/B000/abcdefghijklmnop1234";
        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/integrations");
        B.Fill("#integration-name", name);
        B.ChooseValue("#integration-kind", "slack");
        B.Fill("#integration-url", "ftp://not-a-webhook");
        B.Submit("#new-integration button[type=submit]");
        Assert.Contains("scheme", B.Text("#integration-url-error"));
        Assert.Equal("true", B.Find("#integration-url").GetAttribute("aria-invalid"));
        Assert.Equal(name, B.Find("#integration-name").GetAttribute("value"));
        Assert.Equal("", B.Find("#integration-url").GetAttribute("value"));

        B.Fill("#integration-url", url);
        B.Submit("#new-integration button[type=submit]");
        var row = Row("integrations", name);
        Assert.Contains("********", row.Text);
        Assert.DoesNotContain("abcdefghijklmnop", B.Source);
        Assert.Contains("created", row.Text);
        B.Screenshot("settings-integrations");

        B.Follow(row.FindElement(By.CssSelector("a.button.danger")), "/acme/settings/integrations");
        Assert.Equal($"Delete integration “{name}”?", B.Text("#confirm-delete-h"));
        B.Submit("#confirm-delete-button");
        Assert.DoesNotContain(name, B.FindAll("#integrations") is [var table, ..] ? table.Text : "");
        Assert.Equal($"Integration {name} deleted.", B.Text("#integrations-message"));
    }
}
