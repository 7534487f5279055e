using System.Net;

namespace Automations.Console.Tests;

/// <summary>Sign-in, sign-out and the session of the console of its own: the key re-checked by the Api on every page.</summary>
[Collection("browser")]
public class Signing_in_to_the_console(TeamSettingsFixture fx) : IClassFixture<TeamSettingsFixture>
{
    private Browser B => fx.Browser;

    [Fact]
    public void Should_refuse_an_unknown_key_after_a_redirect_and_keep_the_key_out_of_the_page()
    {
        B.Driver.Manage().Cookies.DeleteAllCookies();
        B.Go("/sign-in");
        B.Fill("#key", "amk_not-a-real-key");
        B.Submit("#sign-in button[type=submit]");
        Assert.Equal("/sign-in", B.Path0);
        Assert.Equal("This key is unknown or revoked.", B.Text("#key-error"));
        Assert.Equal("true", B.Find("#key").GetAttribute("aria-invalid"));
        Assert.Equal("", B.Find("#key").GetAttribute("value"));
        Assert.DoesNotContain("amk_not-a-real-key", B.Source);
        B.Screenshot("console-sign-in-refused");
        B.Driver.Navigate().Refresh();
        Assert.Empty(B.FindAll("#key-error"));
    }

    [Fact]
    public async Task Should_keep_the_key_in_an_httponly_strict_cookie_and_clear_it_on_sign_out()
    {
        B.SignInToConsole(fx.AdminKey);
        var cookie = B.Driver.Manage().Cookies.GetCookieNamed("automations.console.session");
        Assert.NotNull(cookie);
        Assert.True(cookie.IsHttpOnly);
        Assert.Equal("Strict", cookie.SameSite);
        Assert.DoesNotContain(fx.AdminKey, cookie.Value, StringComparison.Ordinal);
        Assert.Equal("alice", B.Find(".who strong").Text);

        B.Submit(".who form button[type=submit]");
        Assert.Equal("/sign-in", B.Path0);
        Assert.Null(B.Driver.Manage().Cookies.GetCookieNamed("automations.console.session"));

        // A sign-out without the antiforgery token changes nothing.
        B.SignInToConsole(fx.AdminKey);
        using var client = fx.ConsoleClient(B.Cookies());
        using var forged = await client.PostAsync("/sign-out", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        using var still = await client.GetAsync("/acme/settings/secrets");
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
    }

    [Fact]
    public async Task Should_end_the_session_at_the_next_click_when_the_key_is_revoked()
    {
        var created = await fx.CreateAsync("/v1/entities/acme/keys", new { name = "short-lived", scopes = new[] { "api" }, user = "alice" });
        B.SignInToConsole(created.GetProperty("key").GetString()!);
        Assert.Equal("/acme/settings/secrets", B.Path0);
        using (var revoke = await fx.CallAsync(HttpMethod.Delete, $"/v1/entities/acme/keys/{created.GetProperty("id").GetGuid()}"))
            Assert.True(revoke.IsSuccessStatusCode);
        B.Go("/acme/settings/secrets");
        Assert.Equal("/sign-in", B.Path0);
    }

    [Fact]
    public void Should_follow_a_return_url_only_to_the_keys_own_team()
    {
        B.Driver.Manage().Cookies.DeleteAllCookies();
        B.Go("/acme/settings/integrations");
        Assert.Equal("/sign-in", B.Path0);
        B.Fill("#key", fx.AdminKey);
        B.Submit("#sign-in button[type=submit]");
        Assert.Equal("/acme/settings/integrations", B.Path0);

        B.Driver.Manage().Cookies.DeleteAllCookies();
        B.Go("/sign-in?ReturnUrl=" + Uri.EscapeDataString("/globex/settings/secrets"));
        B.Fill("#key", fx.AdminKey);
        B.Submit("#sign-in button[type=submit]");
        Assert.Equal("/acme/settings/secrets", B.Path0);

        B.Driver.Manage().Cookies.DeleteAllCookies();
        B.Go("/sign-in?ReturnUrl=" + Uri.EscapeDataString("//evil.example/acme/"));
        B.Fill("#key", fx.AdminKey);
        B.Submit("#sign-in button[type=submit]");
        Assert.Equal("/acme/settings/secrets", B.Path0);
        Assert.StartsWith(fx.Console.BaseAddress.ToString().TrimEnd('/'), B.Driver.Url, StringComparison.Ordinal);
    }
}
