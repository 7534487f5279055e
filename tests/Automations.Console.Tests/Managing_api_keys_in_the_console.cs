using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenQA.Selenium;
using OpenQA.Selenium.Interactions;
using OpenQA.Selenium.Support.UI;

namespace Automations.Console.Tests;

/// <summary>
/// Team settings · API keys in the console (headless Chromium): the list with scopes in words, a new key shown once
/// (carried across the redirect in a cookie the page deletes, never in an address or a log) that really has the scope
/// chosen, the Api's refusals at their fields, revoking after a confirmation, revoking the session's own key (the next
/// page is the sign-in page), a member's 403, another team's 404, and the create flow with the keyboard alone.
/// </summary>
[Collection("browser")]
public class Managing_api_keys_in_the_console(TeamSettingsFixture fx) : IClassFixture<TeamSettingsFixture>
{
    private Browser B => fx.Browser;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6];

    private string? Value(string css) => B.Driver.ExecuteScript("return document.querySelector(arguments[0]).value", css) as string;

    private IWebElement Row(string name) => B.FindAll("#keys tbody tr").Single(r => r.FindElement(By.CssSelector("td[data-label=Name]")).Text.StartsWith(name, StringComparison.Ordinal));

    private async Task<JsonElement> ApiKeyAsync(string name)
    {
        using var list = await fx.CallAsync(HttpMethod.Get, "/v1/entities/acme/keys");
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        return (await list.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().Single(k => k.GetProperty("name").GetString() == name);
    }

    private async Task<HttpStatusCode> StatusWithAsync(string key, string path)
    {
        using var answer = await fx.CallAsync(HttpMethod.Get, path, key: key);
        return answer.StatusCode;
    }

    [Fact]
    public async Task Should_list_the_keys_and_show_a_new_producer_key_once_with_its_scope()
    {
        var revoked = Unique("old agent ");
        var old = await fx.CreateAsync("/v1/entities/acme/keys", new { name = revoked, scopes = new[] { "queues:agent" } });
        (await fx.CallAsync(HttpMethod.Delete, $"/v1/entities/acme/keys/{old.GetProperty("id").GetString()}")).EnsureSuccessStatusCode();

        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/keys");
        Assert.Equal("API keys", B.Text("nav.tabs a[aria-current=page]"));
        var bob = Row("bob's key");
        Assert.Equal("Acts as bob (API)", bob.FindElement(By.CssSelector("td[data-label=Scopes]")).Text);
        Assert.StartsWith("ak_", bob.FindElement(By.CssSelector("td[data-label=Key]")).Text);
        Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$", bob.FindElement(By.CssSelector("td[data-label=Created]")).Text);
        Assert.Single(bob.FindElements(By.CssSelector("a[aria-label=\"Revoke key bob's key\"]")));
        Assert.DoesNotContain(fx.MemberKey, B.Source);
        Assert.DoesNotContain(fx.AdminKey, B.Source);
        // Revoked keys come after the active ones, marked, without a Revoke.
        var old1 = Row(revoked);
        Assert.Equal("Launch agent", old1.FindElement(By.CssSelector("td[data-label=Scopes]")).Text);
        Assert.StartsWith("Revoked ", old1.FindElement(By.CssSelector("td[data-label=Revoked]")).Text);
        Assert.Empty(old1.FindElements(By.CssSelector("a.button")));
        var states = B.FindAll("#keys tbody tr").Select(r => r.GetAttribute("class") == "revoked").ToList();
        Assert.Equal(states.OrderBy(r => r).ToList(), states);

        var name = Unique("registry producer ");
        B.Fill("#key-name", name);
        B.Find("#scope-events-write").Click();
        B.Submit("#new-key-form button[type=submit]");
        Assert.Equal("/acme/settings/keys", B.Path0);
        Assert.Equal($"Key “{name}” created", B.Text("#new-key-h"));
        Assert.Equal("Copy it now: it is not shown again.", B.Text("#new-key-note"));
        Assert.Equal("The new key", B.Find("label[for=new-key-value]").Text);
        Assert.Equal("true", B.Find("#new-key-value").GetAttribute("readonly"));
        var key = Value("#new-key-value")!;
        Assert.StartsWith("ak_", key);
        Assert.True(key.Length > 40, key);
        Assert.DoesNotContain(key[3..], B.Driver.Url);
        Assert.Equal("Sends events", Row(name).FindElement(By.CssSelector("td[data-label=Scopes]")).Text);
        Assert.Equal("Never", Row(name).FindElement(By.CssSelector("td[data-label='Last used']")).Text);
        Assert.Null(B.Cookie("automations.console.newkey"));
        // The Copy button, shown by wwwroot/keys.js (hidden without scripts).
        new WebDriverWait(B.Driver, TimeSpan.FromSeconds(10)).Until(_ => B.Find("#copy-new-key").Displayed);
        Assert.Empty(B.FindAll("#new-key-form .error"));
        B.Driver.ExecuteScript("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);");
        B.Screenshot("settings-keys");

        // Read once: a refresh (or any later page) no longer has it.
        B.Driver.Navigate().Refresh();
        Assert.Empty(B.FindAll("#new-key, #new-key-value"));
        Assert.DoesNotContain(key, B.Source);
        Assert.Single(B.FindAll($"a[aria-label='Revoke key {name}']"));

        // The Api lists it with the scope chosen, and the key is what that scope says: a producer, not a control-plane caller.
        var listed = await ApiKeyAsync(name);
        Assert.Equal(new[] { "events:write" }, listed.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()!).ToArray());
        Assert.Equal(JsonValueKind.Null, listed.GetProperty("user").ValueKind);
        Assert.Equal(key[..11] + "…", listed.GetProperty("display").GetString());
        using (var me = await fx.CallAsync(HttpMethod.Get, "/v1/me", key: key))
        {
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
            Assert.Equal(new[] { "events:write" }, (await me.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("scopes").EnumerateArray().Select(s => s.GetString()!).ToArray());
        }
        Assert.Equal(HttpStatusCode.Forbidden, await StatusWithAsync(key, "/v1/entities/acme/webhooks"));
        Assert.DoesNotContain(fx.Logs.Lines, l => l.Contains(key, StringComparison.Ordinal));

        // Nor can it sign in to the console.
        B.SignInToConsole(key);
        Assert.Equal("/sign-in", B.Path0);
        Assert.Contains("needs the api scope", B.Text("#key-error"));
    }

    [Fact]
    public async Task Should_create_an_api_key_that_acts_as_the_member_chosen()
    {
        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/keys");
        Assert.Contains("bob", B.FindAll("#key-user option").Select(o => o.GetAttribute("value")));
        var name = Unique("bob laptop ");
        B.Fill("#key-name", name);
        B.Find("#scope-api").Click();
        B.ChooseValue("#key-user", "bob");
        B.Submit("#new-key-form button[type=submit]");
        var key = Value("#new-key-value")!;
        Assert.Equal("Acts as bob (API)", Row(name).FindElement(By.CssSelector("td[data-label=Scopes]")).Text);

        var listed = await ApiKeyAsync(name);
        Assert.Equal("bob", listed.GetProperty("user").GetString());
        Assert.Equal(new[] { "api" }, listed.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()!).ToArray());
        // bob is a member: the key reads the team's webhooks, and is refused the admins' keys.
        Assert.Equal(HttpStatusCode.OK, await StatusWithAsync(key, "/v1/entities/acme/webhooks"));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusWithAsync(key, "/v1/entities/acme/keys"));
    }

    [Fact]
    public void Should_say_the_Apis_refusals_at_their_fields_in_the_forms_words()
    {
        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/keys");
        var name = Unique("no scope ");
        B.Fill("#key-name", name);
        B.Submit("#new-key-form button[type=submit]");
        Assert.Equal("Choose at least one scope.", B.Text("#key-scopes-error"));
        Assert.Contains("key-scopes-error", B.Find("#key-scopes").GetAttribute("aria-describedby"));
        Assert.Equal("Please correct the field marked below.", B.Text("#new-key-message"));
        Assert.Equal(name, Value("#key-name"));
        Assert.Empty(B.FindAll("#new-key"));
        Assert.DoesNotContain("entity", B.Find("main").Text);
        B.Screenshot("settings-keys-refused");

        B.Find("#scope-api").Click();
        B.Submit("#new-key-form button[type=submit]");
        Assert.Equal("Choose the member an API key acts as.", B.Text("#key-user-error"));
        Assert.Equal("true", B.Find("#key-user").GetAttribute("aria-invalid"));
        Assert.Empty(B.FindAll("#key-scopes-error"));
        Assert.True(B.Find("#scope-api").Selected);
        Assert.False(B.Find("#scope-events-write").Selected);

        B.Fill("#key-name", " ");
        B.Find("#scope-api").Click();
        B.Find("#scope-queues-agent").Click();
        B.Submit("#new-key-form button[type=submit]");
        Assert.Equal("Name is required", B.Text("#key-name-error"));
        Assert.True(B.Find("#scope-queues-agent").Selected);

        B.Fill("#key-name", new string('n', 129));
        B.Submit("#new-key-form button[type=submit]");
        Assert.Equal("Name must be at most 128 characters", B.Text("#key-name-error"));

        // A refusal is said once: a refresh shows the form clean.
        B.Driver.Navigate().Refresh();
        Assert.Empty(B.FindAll("#new-key-form .error, #new-key-form .message"));
    }

    [Fact]
    public async Task Should_revoke_a_key_only_after_the_confirmation()
    {
        var name = Unique("ci producer ");
        var created = await fx.CreateAsync("/v1/entities/acme/keys", new { name, scopes = new[] { "events:write" } });
        var id = created.GetProperty("id").GetString();
        var key = created.GetProperty("key").GetString()!;

        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/keys");
        B.Follow(B.Find($"a[aria-label='Revoke key {name}']"), "/acme/settings/keys");
        Assert.Contains($"confirm={id}", B.Driver.Url);
        Assert.Equal($"Revoke key “{name}”?", B.Text("#confirm-delete-h"));
        Assert.Contains("refused from its next request", B.Text("#confirm-delete-text"));
        Assert.Contains("It cannot be undone.", B.Text("#confirm-delete-text"));
        B.Screenshot("settings-keys-confirm");

        B.Follow(B.Find("#confirm-delete-cancel"), "/acme/settings/keys");
        Assert.Empty(B.FindAll("#confirm-delete"));
        Assert.Equal(HttpStatusCode.OK, (await fx.CallAsync(HttpMethod.Get, "/v1/me", key: key)).StatusCode);

        B.Follow(B.Find($"a[aria-label='Revoke key {name}']"), "/acme/settings/keys");
        B.Submit("#confirm-delete-button");
        Assert.Equal("/acme/settings/keys", B.Path0);
        Assert.DoesNotContain("confirm=", B.Driver.Url);
        Assert.Equal($"Key {name} revoked.", B.Text("#keys-message"));
        Assert.Single(B.FindAll(".message"));
        Assert.StartsWith("Revoked ", Row(name).FindElement(By.CssSelector("td[data-label=Revoked]")).Text);
        Assert.Empty(B.FindAll($"a[aria-label='Revoke key {name}']"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await fx.CallAsync(HttpMethod.Get, "/v1/me", key: key)).StatusCode);
        B.Driver.Navigate().Refresh();
        Assert.Empty(B.FindAll(".message"));

        // A revoked key offers no confirmation.
        B.Go($"/acme/settings/keys?confirm={id}");
        Assert.Empty(B.FindAll("#confirm-delete"));
    }

    [Fact]
    public async Task Should_sign_out_an_admin_who_revokes_the_key_they_are_signed_in_with()
    {
        var name = Unique("alice console ");
        var key = (await fx.CreateAsync("/v1/entities/acme/keys", new { name, scopes = new[] { "api" }, user = "alice" })).GetProperty("key").GetString()!;
        B.SignInToConsole(key);
        B.Go("/acme/settings/keys");
        Assert.Equal($"{name} (this session)", Row(name).FindElement(By.CssSelector("td[data-label=Name]")).Text);
        var session = B.Cookies();
        B.Follow(B.Find($"a[aria-label='Revoke key {name}']"), "/acme/settings/keys");
        Assert.Contains("revoking it signs you out", B.Text("#confirm-delete-text"));
        B.Submit("#confirm-delete-button");
        Assert.Equal("/sign-in", B.Path0);
        Assert.Contains("You revoked the key you were signed in with", B.Text("#key-error"));
        Assert.Null(B.Cookie("automations.console.session"));
        B.Go("/acme/settings/keys");
        Assert.Equal("/sign-in", B.Path0);

        // The old session cookie, sent again: the console re-checks the key and sends it to sign in, no error.
        using var stale = fx.ConsoleClient(session);
        using var page = await stale.GetAsync("/acme/settings/keys");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        var location = page.Headers.Location!;
        Assert.Equal("/sign-in", location.IsAbsoluteUri ? location.AbsolutePath : location.OriginalString.Split('?')[0]);
        Assert.DoesNotContain(fx.Logs.Lines, l => l.Contains("Unhandled", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Should_refuse_a_member_with_403_and_no_form_and_another_team_with_404()
    {
        B.SignInToConsole(fx.MemberKey);
        B.Go("/acme/settings/keys");
        Assert.Equal("Forbidden", B.Text("#refused-h"));
        Assert.Empty(B.FindAll("main form, #keys, #new-key-form"));

        using var member = fx.ConsoleClient(B.Cookies());
        using (var own = await member.GetAsync("/acme/settings/keys"))
            Assert.Equal(HttpStatusCode.Forbidden, own.StatusCode);
        using (var confirm = await member.GetAsync($"/acme/settings/keys?confirm={Guid.NewGuid()}"))
            Assert.Equal(HttpStatusCode.Forbidden, confirm.StatusCode);
        using (var other = await member.GetAsync("/globex/settings/keys"))
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);

        B.SignInToConsole(fx.AdminKey);
        using var admin = fx.ConsoleClient(B.Cookies());
        using var globex = await admin.GetAsync("/globex/settings/keys");
        Assert.Equal(HttpStatusCode.NotFound, globex.StatusCode);
        Assert.DoesNotContain("carol", await globex.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Should_create_a_key_with_the_keyboard_alone()
    {
        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/keys");
        var name = Unique("kb agent ");
        StartAtTheTop();
        TabTo("#key-name");
        Type(name);
        TabTo("#scope-queues-agent");
        Type(" ");
        TabTo("#new-key-form button[type=submit]");
        B.Submit(B.Driver.SwitchTo().ActiveElement(), Keys.Enter);
        Assert.Equal("Launch agent", Row(name).FindElement(By.CssSelector("td[data-label=Scopes]")).Text);
        StartAtTheTop();
        TabTo("#new-key-value");
        Assert.StartsWith("ak_", Value("#new-key-value"));
        Assert.Equal(new[] { "queues:agent" }, (await ApiKeyAsync(name)).GetProperty("scopes").EnumerateArray().Select(s => s.GetString()!).ToArray());
    }

    private const string ActiveMatches = "return document.activeElement && document.activeElement.matches(arguments[0]);";

    private void StartAtTheTop() => B.Driver.ExecuteScript("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);");

    private void Type(string text) => new Actions(B.Driver).SendKeys(text).Perform();

    /// <summary>Presses Tab until the element matching <paramref name="css"/> has the focus, and checks the focus ring shows.</summary>
    private void TabTo(string css)
    {
        for (var i = 0; i < 120; i++)
        {
            if (B.Driver.ExecuteScript(ActiveMatches, css) is true)
            {
                var visible = B.Driver.ExecuteScript("var s = getComputedStyle(document.activeElement); return s.outlineStyle !== 'none' && document.activeElement.matches(':focus-visible');");
                Assert.Equal(true, visible);
                return;
            }
            new Actions(B.Driver).SendKeys(Keys.Tab).Perform();
        }
        throw new InvalidOperationException($"Tab never reached {css}");
    }
}
