using System.Net;
using OpenQA.Selenium;

namespace Automations.Console.Tests;

/// <summary>
/// Team settings · Secrets in the console of its own (headless Chromium): every post ends in a redirect, its message shows
/// once next to the form or row it concerns, errors speak the form's words at the field, and a secret's value can be changed.
/// </summary>
[Collection("browser")]
public class Keeping_team_secrets_in_the_console(TeamSettingsFixture fx) : IClassFixture<TeamSettingsFixture>
{
    private Browser B => fx.Browser;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6].ToUpperInvariant();

    [Fact]
    public void Should_create_a_secret_and_show_its_message_once_after_a_redirect()
    {
        B.SignInToConsole(fx.AdminKey);
        Assert.Equal("/acme/settings/secrets", B.Path0);
        B.Screenshot("settings-secrets-empty");

        var name = Unique("DEPLOY_TOKEN_");
        const string value = "ghp-value-never-shown-1";
        B.Fill("#secret-name", name);
        B.Fill("#secret-value", value);
        B.Submit("#new-secret button[type=submit]");

        Assert.Equal("/acme/settings/secrets", B.Path0);
        if (B.FindAll($"#secret-{name}").Count == 0) Assert.Fail(B.Find("main").Text);
        var row = B.Find($"#secret-{name}");
        Assert.Equal($"Secret {name} created.", row.FindElement(By.CssSelector(".message.ok")).Text);
        Assert.Single(B.FindAll(".message"));
        Assert.DoesNotContain(value, B.Source);
        B.Screenshot("settings-secrets-created");

        // A refresh is a GET of the page the post redirected to: nothing is sent again (a second create would be refused
        // as a duplicate), and the message has been shown once.
        B.Driver.Navigate().Refresh();
        Assert.Equal("/acme/settings/secrets", B.Path0);
        Assert.Empty(B.FindAll(".message"));
        Assert.Empty(B.FindAll(".error"));
        Assert.Single(B.FindAll($"#secret-{name}"));
    }

    [Fact]
    public void Should_show_a_refused_name_at_its_field_in_the_forms_words()
    {
        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/secrets");
        B.Fill("#secret-name", "9-not-an-identifier");
        B.Fill("#secret-value", "x");
        B.Submit("#new-secret button[type=submit]");

        Assert.Equal("/acme/settings/secrets", B.Path0);
        var error = B.Text("#secret-name-error");
        Assert.StartsWith("Name must look like an identifier", error);
        Assert.Equal("true", B.Find("#secret-name").GetAttribute("aria-invalid"));
        Assert.Contains("secret-name-error", B.Find("#secret-name").GetAttribute("aria-describedby"));
        Assert.Equal("9-not-an-identifier", B.Find("#secret-name").GetAttribute("value"));
        Assert.Equal("", B.Find("#secret-value").GetAttribute("value"));
        B.Screenshot("settings-secrets-field-error");

        // A duplicate: the hint names the console's own way, not the API's path.
        var name = Unique("DUP_");
        B.Fill("#secret-name", name);
        B.Fill("#secret-value", "one");
        B.Submit("#new-secret button[type=submit]");
        B.Fill("#secret-name", name);
        B.Fill("#secret-value", "two");
        B.Submit("#new-secret button[type=submit]");
        Assert.Contains("already exists", B.Text("#secret-name-error"));
        Assert.Contains("Change value", B.Text("#secret-name-error"));
        Assert.DoesNotContain("PUT ", B.Find("main").Text);
        Assert.DoesNotContain("/secrets/", B.Find("main").Text);
    }

    [Fact]
    public async Task Should_show_why_a_used_secret_cannot_be_deleted_once_next_to_its_row()
    {
        var name = Unique("USED_");
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name, value = "v" });
        var hook = "uses " + name.ToLowerInvariant().Replace('_', ' ');
        await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url("/used"), secret = name });

        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/secrets");
        B.Follow(B.Find($"#secret-{name} a.button.danger"), "/acme/settings/secrets");
        B.Submit("#confirm-delete-button");

        Assert.Equal("/acme/settings/secrets", B.Path0);
        var messages = B.FindAll(".message");
        var message = Assert.Single(messages);
        Assert.Contains("is in use", message.Text);
        Assert.Contains(hook, message.Text);
        Assert.Equal($"secret-{name}-message", message.GetAttribute("id"));
        Assert.Empty(B.FindAll("#new-secret .message, #new-secret .error"));
        B.Screenshot("settings-secrets-in-use");

        B.Driver.Navigate().Refresh();
        Assert.Empty(B.FindAll(".message"));
        Assert.Single(B.FindAll($"#secret-{name}"));
    }

    [Fact]
    public async Task Should_change_a_secrets_value_and_sign_with_the_new_one()
    {
        var name = Unique("SIGNING_");
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name, value = "old-signing-value" });
        var path = "/signed/" + Guid.NewGuid().ToString("N");
        var hook = await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = "signed " + name.ToLowerInvariant().Replace('_', ' '), url = fx.Receiver.Url(path), secret = name });

        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/secrets");
        B.Follow(B.Driver.FindElement(By.CssSelector($"#secret-{name} a.button")), $"/acme/settings/secrets/{name}");
        const string newValue = "new-signing-value-42";
        B.Fill("#secret-new-value", newValue);
        B.Screenshot("settings-secret-change-value");
        B.Submit("#rotate-secret button[type=submit]");

        Assert.Equal("/acme/settings/secrets", B.Path0);
        Assert.Equal($"The value of {name} was changed.", B.Text($"#secret-{name}-message"));
        Assert.DoesNotContain(newValue, B.Source);

        // The Test of a webhook signed by the secret: the receiver's signature is made with the new value.
        using var test = await fx.CallAsync(HttpMethod.Post, $"/v1/entities/acme/webhooks/{hook.GetProperty("id").GetString()}/test", new { hello = "rotated" });
        Assert.Equal(HttpStatusCode.OK, test.StatusCode);
        var received = Assert.Single(fx.Receiver.On(path));
        var expected = Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData(System.Text.Encoding.UTF8.GetBytes(newValue), received.Body));
        Assert.Equal(expected, received.Header("X-Wandb-Signature"));

        // Neither the value nor the key reaches a log line of the console, the Api or the sender (all at Debug).
        var logs = string.Join("\n", fx.Logs.Lines);
        Assert.Contains("/acme/settings/secrets", logs);
        Assert.DoesNotContain(newValue, logs);
        Assert.DoesNotContain(fx.AdminKey, logs);
    }

    [Fact]
    public async Task Should_answer_403_without_a_form_to_a_member_and_404_for_another_team()
    {
        B.SignInToConsole(fx.MemberKey);
        Assert.Equal("/acme/settings/webhooks", B.Path0);
        B.Go("/acme/settings/secrets");
        Assert.Equal("Forbidden", B.Text("#refused-h"));
        Assert.Empty(B.FindAll("form#new-secret, #secret-name, #secrets"));
        B.Screenshot("settings-secrets-member");
        using (var member = fx.ConsoleClient(B.Cookies()))
        using (var page = await member.GetAsync("/acme/settings/secrets"))
            Assert.Equal(HttpStatusCode.Forbidden, page.StatusCode);

        B.SignInToConsole(fx.AdminKey);
        using var admin = fx.ConsoleClient(B.Cookies());
        using (var other = await admin.GetAsync("/globex/settings/secrets"))
        {
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
            Assert.DoesNotContain("secret-name", await other.Content.ReadAsStringAsync());
        }
        using (var own = await admin.GetAsync("/acme/settings/secrets"))
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        using (var anonymous = fx.ConsoleClient(null))
        using (var page = await anonymous.GetAsync("/acme/settings/secrets"))
        {
            Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
            Assert.StartsWith("/sign-in", page.Headers.Location!.OriginalString.Replace(fx.Console.BaseAddress.ToString().TrimEnd('/'), "", StringComparison.Ordinal));
        }
    }
}
