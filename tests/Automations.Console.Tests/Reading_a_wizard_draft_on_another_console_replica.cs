using System.Net;
using System.Security.Cryptography;
using Automations.Console.Components.Wizard;
using Automations.Testing;

namespace Automations.Console.Tests;

/// <summary>
/// A refused wizard form comes back after the redirect from the browser (a sealed cookie), not one replica's memory: a
/// second console replica sharing the Data Protection keys shows it, the errors only once. A draft too large for a cookie stays
/// in the replica that took the post.
/// </summary>
[Collection("browser")]
public class Reading_a_wizard_draft_on_another_console_replica(TeamSettingsFixture fx) : IClassFixture<TeamSettingsFixture>
{
    private Browser B => fx.Browser;

    private static string Wizard(string project) => $"/acme/projects/{project}/automations/new";

    private async Task<(HttpStatusCode Status, string Html)> GetOnSecondReplicaAsync(ServiceHost second, string pathAndQuery)
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = second.BaseAddress };
        client.DefaultRequestHeaders.Add("Cookie", B.Cookies());
        using var page = await client.GetAsync(pathAndQuery);
        return (page.StatusCode, await page.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Should_bring_a_refused_form_back_on_any_replica_with_its_errors_once()
    {
        var project = "draft-" + Guid.NewGuid().ToString("N")[..6];
        B.SignInToConsole(fx.AdminKey);
        B.Go(Wizard(project));
        B.Fill("#collection", "eval-set-draft");
        B.SetValue("#payload", "{\"kept\": \"${artifact_version_string}\"}");
        // No name: refused at the name field, what was typed comes back.
        B.Submit("#create-button");
        Assert.Contains("?draft=", B.Driver.Url);
        Assert.StartsWith("Automation name", B.Text("#automation-name-error"));

        var cookie = B.Driver.Manage().Cookies.GetCookieNamed(WizardDrafts.CookieName);
        Assert.NotNull(cookie);
        Assert.Equal(Wizard(project), cookie.Path);
        Assert.True(cookie.IsHttpOnly);

        await using var second = await fx.StartConsoleAsync();
        var draftPage = new Uri(B.Driver.Url).PathAndQuery;
        // The browser read it once (its errors showed then): the second replica shows the values, not the verdicts again.
        var (status, html) = await GetOnSecondReplicaAsync(second, draftPage);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("eval-set-draft", html);
        Assert.Contains("${artifact_version_string}", html);
        Assert.DoesNotContain("id=\"automation-name-error\"", html);
        Assert.DoesNotContain("no longer here", html, StringComparison.OrdinalIgnoreCase);

        // A refresh shows the form as typed, without the last post's verdicts.
        B.Go(draftPage);
        Assert.Equal("eval-set-draft", B.Find("#collection").GetAttribute("value"));
        Assert.Empty(B.FindAll("#automation-name-error"));
    }

    [Fact]
    public void Should_keep_a_draft_too_large_for_a_cookie_in_the_replicas_memory()
    {
        var project = "bigdraft-" + Guid.NewGuid().ToString("N")[..6];
        // A payload that compresses badly, longer than a cookie holds.
        var blob = Convert.ToHexString(RandomNumberGenerator.GetBytes(3000));
        B.SignInToConsole(fx.AdminKey);
        B.Go(Wizard(project));
        B.Fill("#collection", "eval-set-big");
        B.SetValue("#payload", "{\"blob\": \"" + blob + "\"}");
        B.Submit("#create-button");
        Assert.Contains("?draft=", B.Driver.Url);
        Assert.StartsWith("Automation name", B.Text("#automation-name-error"));
        Assert.Contains(blob, B.Find("#payload").GetAttribute("value"));
        var cookie = B.Driver.Manage().Cookies.GetCookieNamed(WizardDrafts.CookieName);
        Assert.True(cookie is null || cookie.Path != Wizard(project), "a draft over the cookie bound is not sent as a cookie");
    }
}
