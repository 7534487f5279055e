using System.Net;
using System.Security.Cryptography;
using Automations.Console.Session;

namespace Automations.Console.Tests;

/// <summary>
/// A webhook test's result travels with the browser (a bounded, encrypted cookie), not in one replica's memory: a second
/// console replica sharing the Data Protection keys shows it after the redirect, without sticky sessions.
/// </summary>
[Collection("browser")]
public class Reading_a_webhook_test_on_another_console_replica(TeamSettingsFixture fx) : IClassFixture<TeamSettingsFixture>
{
    private Browser B => fx.Browser;

    [Fact]
    public async Task Should_show_the_result_after_the_redirect_on_any_replica_in_a_cookie_under_3_kb()
    {
        var path = "/replica/" + Guid.NewGuid().ToString("N");
        var id = (await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = "replica " + Guid.NewGuid().ToString("N")[..6], url = fx.Receiver.Url(path) }))
            .GetProperty("id").GetString();
        // A payload that compresses badly, longer than a cookie: the request shown is shortened, the payload not kept.
        var blob = Convert.ToHexString(RandomNumberGenerator.GetBytes(3000));
        var payload = "{\"blob\": \"" + blob + "\"}";

        B.SignInToConsole(fx.AdminKey);
        B.Go($"/acme/settings/webhooks/{id}/test");
        B.SetValue("#payload", payload);
        B.Submit("#test-webhook button[type=submit]");
        Assert.Contains("?run=", B.Driver.Url);
        Assert.Equal("201", B.Text("#test-status"));
        Assert.Equal("dispatched by the receiver", B.Text("#test-response-body"));
        Assert.EndsWith("…", B.Text("#test-request-body"));
        Assert.Contains("too long to keep", B.Text("#test-payload-cut"));
        Assert.Contains(blob, Assert.Single(fx.Receiver.On(path)).BodyText);
        var cookie = B.Driver.Manage().Cookies.GetCookieNamed(TestResults.CookieName);
        Assert.NotNull(cookie);
        Assert.True(cookie.Value.Length <= TestResults.MaxCookie, $"{cookie.Value.Length} characters");
        Assert.Equal($"/acme/settings/webhooks/{id}/test", cookie.Path);
        Assert.True(cookie.IsHttpOnly);

        // Another replica (its own memory, the same keys) answers the page the post redirected to.
        await using var second = await fx.StartConsoleAsync();
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = second.BaseAddress };
        client.DefaultRequestHeaders.Add("Cookie", B.Cookies());
        using var page = await client.GetAsync(new Uri(B.Driver.Url).PathAndQuery);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("id=\"test-status\">201<", html);
        Assert.Contains("dispatched by the receiver", html);
        Assert.DoesNotContain("no longer here", html);
        Assert.Single(fx.Receiver.On(path));

        // Another address (an old ?run=) says it is gone, and sends nothing.
        using var old = await client.GetAsync($"/acme/settings/webhooks/{id}/test?run=0123456789abcdef");
        Assert.Contains("no longer here", await old.Content.ReadAsStringAsync());
    }
}
