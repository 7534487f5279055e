using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenQA.Selenium;
using OpenQA.Selenium.Interactions;

namespace Automations.Console.Tests;

/// <summary>
/// Delete… of a secret or a webhook asks first, on the page itself (no script): Cancel leaves the thing, Delete posts
/// (with antiforgery) and redirects to the list with one message; a refusal stays once next to its row.
/// </summary>
[Collection("browser")]
public class Confirming_a_delete_in_the_console(TeamSettingsFixture fx) : IClassFixture<TeamSettingsFixture>
{
    private Browser B => fx.Browser;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6];

    private async Task<bool> SecretExistsAsync(string name)
    {
        using var list = await fx.CallAsync(HttpMethod.Get, "/v1/entities/acme/secrets");
        return (await list.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().Any(s => s.GetProperty("name").GetString() == name);
    }

    [Fact]
    public async Task Should_ask_before_deleting_a_secret_leave_it_on_cancel_and_delete_it_on_confirm()
    {
        var name = Unique("CONFIRM_").ToUpperInvariant();
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name, value = "confirm-value" });
        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/secrets");

        B.Follow(B.Find($"a[aria-label='Delete secret {name}']"), "/acme/settings/secrets");
        Assert.Contains($"confirm={name}", B.Driver.Url);
        Assert.Equal($"Delete secret “{name}”?", B.Text("#confirm-delete-h"));
        Assert.EndsWith("It cannot be undone.", B.Text("#confirm-delete-text"));
        Assert.Equal("alertdialog", B.Find("#confirm-delete").GetAttribute("role"));
        Assert.Empty(B.FindAll(".message"));
        Assert.True(await SecretExistsAsync(name));
        B.Screenshot("settings-secrets-confirm");

        B.Follow(B.Find("#confirm-delete-cancel"), "/acme/settings/secrets");
        Assert.DoesNotContain("confirm=", B.Driver.Url);
        Assert.Empty(B.FindAll("#confirm-delete"));
        Assert.Single(B.FindAll($"#secret-{name}"));
        Assert.True(await SecretExistsAsync(name));

        B.Follow(B.Find($"a[aria-label='Delete secret {name}']"), "/acme/settings/secrets");
        B.Submit("#confirm-delete-button");
        Assert.Equal("/acme/settings/secrets", B.Path0);
        Assert.DoesNotContain("confirm=", B.Driver.Url);
        Assert.Equal($"Secret {name} deleted.", B.Text("#secrets-message"));
        Assert.Single(B.FindAll(".message"));
        Assert.Empty(B.FindAll($"#secret-{name}, #confirm-delete"));
        Assert.False(await SecretExistsAsync(name));
        B.Driver.Navigate().Refresh();
        Assert.Empty(B.FindAll(".message"));
    }

    [Fact]
    public async Task Should_delete_a_webhook_after_confirming_and_say_once_at_its_row_why_a_used_one_stays()
    {
        var used = Unique("confirm used ");
        var usedId = (await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = used, url = fx.Receiver.Url("/confirm-used") })).GetProperty("id").GetString();
        var automation = Unique("sends-");
        await fx.CreateAsync("/v1/entities/acme/projects/mnist/automations", new
        {
            name = automation,
            @event = new { type = "CREATE_ARTIFACT", collection = "eval-set" },
            action = new { type = "webhook", webhook = used, payload = "{\"a\": 1}" },
        });
        var spare = Unique("confirm spare ");
        var spareId = (await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = spare, url = fx.Receiver.Url("/confirm-spare") })).GetProperty("id").GetString();

        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/webhooks");
        B.Follow(B.Find($"#webhook-{usedId} a.button.danger"), "/acme/settings/webhooks");
        Assert.Equal($"Delete webhook “{used}”?", B.Text("#confirm-delete-h"));
        B.Screenshot("settings-webhooks-confirm");
        B.Submit("#confirm-delete-button");
        Assert.Equal("/acme/settings/webhooks", B.Path0);
        Assert.DoesNotContain("confirm=", B.Driver.Url);
        var message = Assert.Single(B.FindAll(".message"));
        Assert.Equal($"webhook-{usedId}-message", message.GetAttribute("id"));
        Assert.Contains(automation, message.Text);
        Assert.Empty(B.FindAll("#confirm-delete, #new-webhook .message, #new-webhook .error"));

        B.Follow(B.Find($"#webhook-{spareId} a.button.danger"), "/acme/settings/webhooks");
        B.Submit("#confirm-delete-button");
        Assert.Equal($"Webhook {spare} deleted.", B.Text("#webhooks-message"));
        Assert.Empty(B.FindAll($"#webhook-{spareId}"));
        Assert.Single(B.FindAll($"#webhook-{usedId}"));
    }

    [Fact]
    public async Task Should_answer_403_without_a_confirmation_to_a_member()
    {
        var hook = Unique("member sees ");
        var id = (await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url("/member-sees") })).GetProperty("id").GetString();
        B.SignInToConsole(fx.MemberKey);
        B.Go($"/acme/settings/webhooks?confirm={id}");
        Assert.Equal("Forbidden", B.Text("#refused-h"));
        Assert.Empty(B.FindAll("#confirm-delete, main form"));
        using var member = fx.ConsoleClient(B.Cookies());
        foreach (var page in new[] { $"/acme/settings/webhooks?confirm={id}", "/acme/settings/secrets?confirm=ANY", "/acme/settings/members?confirm=alice" })
        {
            using var answer = await member.GetAsync(page);
            Assert.Equal(HttpStatusCode.Forbidden, answer.StatusCode);
            Assert.DoesNotContain("confirm-delete", await answer.Content.ReadAsStringAsync());
        }
        using (var list = await fx.CallAsync(HttpMethod.Get, $"/v1/entities/acme/webhooks/{id}"))
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
    }

    [Fact]
    public async Task Should_confirm_a_delete_with_the_keyboard_alone()
    {
        var name = Unique("KEYS_").ToUpperInvariant();
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name, value = "keyboard-value" });
        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/secrets");

        TabTo($"a[aria-label='Delete secret {name}']");
        B.Follow(B.Driver.SwitchTo().ActiveElement(), "/acme/settings/secrets", Keys.Enter);
        TabTo("#confirm-delete-button");
        B.Submit(B.Driver.SwitchTo().ActiveElement(), Keys.Enter);
        Assert.Equal($"Secret {name} deleted.", B.Text("#secrets-message"));
        Assert.False(await SecretExistsAsync(name));
    }

    [Fact]
    public async Task Should_delete_nothing_on_a_post_without_the_antiforgery_token()
    {
        var name = Unique("FORGED_").ToUpperInvariant();
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name, value = "forged-value" });
        B.SignInToConsole(fx.AdminKey);
        B.Go($"/acme/settings/secrets?confirm={name}");
        Assert.Single(B.FindAll("#confirm-delete-form input[name=__RequestVerificationToken]"));

        using var client = fx.ConsoleClient(B.Cookies());
        using var post = await client.PostAsync($"/acme/settings/secrets?confirm={name}",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["_handler"] = "confirm-delete-secret" }));
        Assert.Equal(HttpStatusCode.BadRequest, post.StatusCode);
        Assert.True(await SecretExistsAsync(name));
    }

    private const string ActiveMatches = "return document.activeElement && document.activeElement.matches(arguments[0]);";

    /// <summary>Tab from the top of the page until <paramref name="css"/> has the focus; its focus ring is visible (≥ 2 px).</summary>
    private void TabTo(string css)
    {
        B.Driver.ExecuteScript("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);");
        for (var i = 0; i < 80; i++)
        {
            if (B.Driver.ExecuteScript(ActiveMatches, css) is true)
            {
                var style = (IReadOnlyDictionary<string, object>)B.Driver.ExecuteScript(
                    "var s = getComputedStyle(document.activeElement); return { style: s.outlineStyle, width: s.outlineWidth, visible: document.activeElement.matches(':focus-visible') };")!;
                Assert.NotEqual("none", style["style"]);
                Assert.True(double.Parse(((string)style["width"]!).Replace("px", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture) >= 2);
                Assert.Equal(true, style["visible"]);
                return;
            }
            new Actions(B.Driver).SendKeys(Keys.Tab).Perform();
        }
        throw new InvalidOperationException($"Tab never reached {css}");
    }
}
