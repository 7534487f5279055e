using System.Net;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;
using static Automations.Console.Tests.OpsSteps;

namespace Automations.Console.Tests;

/// <summary>Team settings · Audit in the console of its own: the trail newest first, filtered, 50 a page, never a secret value; admins only.</summary>
[Collection("browser")]
public class Auditing_the_team_in_the_console(TeamSettingsFixture fx) : IClassFixture<TeamSettingsFixture>
{
    private Browser B => fx.Browser;

    [Fact]
    public async Task Should_list_the_changes_newest_first_with_before_and_after_folded_and_no_secret_value()
    {
        var name = Unique("AUDIT_").ToUpperInvariant();
        const string value = "ghp-audit-console-value-9f8e7d";
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name, value });
        var queue = Unique("audit-");
        var created = await fx.CreateAsync("/v1/entities/acme/queues", new { name = queue });
        using (await fx.CallAsync(HttpMethod.Put, $"/v1/entities/acme/queues/{created.GetProperty("id").GetGuid()}", new { name = queue, description = "changed" })) { }

        B.SignInToConsole(fx.AdminKey);
        B.FollowLink("nav[aria-label=Main] a[href='/acme/settings/audit']", "/acme/settings/audit", "#audit-filter");
        Assert.Equal("/acme/settings/audit", B.Path0);
        Assert.StartsWith("History is kept for 30 days (since ", B.Text("#audit-reach"));
        var rows = B.FindAll("#audit tbody tr");
        // Newest first: the queue's update, its create, then the secret.
        Assert.Contains(queue, rows[0].Text);
        Assert.Contains("queue update", rows[0].Text);
        Assert.Contains("queue create", rows[1].Text);
        var secretRow = rows.First(r => r.Text.Contains(name, StringComparison.Ordinal));
        Assert.Contains("alice", secretRow.Text);
        Assert.Contains("secret create", secretRow.Text);
        Assert.DoesNotContain(value, B.Source);

        // Before and after are folded until opened.
        var before = rows[0].FindElement(By.CssSelector("details.before"));
        Assert.Null(before.GetAttribute("open"));
        before.FindElement(By.TagName("summary")).Click();
        Assert.Contains("\"description\": null", before.FindElement(By.TagName("pre")).Text);
        Assert.Empty(rows[1].FindElements(By.CssSelector("details.before")));
        B.AssertEveryInputLabelled();
        B.Screenshot("settings-audit");

        B.ChooseValue("#audit-kind", "secret");
        B.ClickAndWait("#audit-filter button[type=submit]");
        Assert.Contains("kind=secret", B.Driver.Url);
        Assert.All(B.FindAll("#audit tbody tr"), r => Assert.Contains("secret", r.Text));
        Assert.Equal("secret", B.Find("#audit-kind").GetAttribute("value"));
    }

    [Fact]
    public async Task Should_page_50_entries_at_a_time_keeping_the_filters_with_older_entries()
    {
        var project = Unique("p-");
        // 53 team automations would be slow to make; 53 queue changes of one queue are one filter away (target by name).
        var queue = Unique("paged-");
        var id = (await fx.CreateAsync("/v1/entities/acme/queues", new { name = queue })).GetProperty("id").GetGuid();
        for (var i = 0; i < 52; i++)
            using (await fx.CallAsync(HttpMethod.Put, $"/v1/entities/acme/queues/{id}", new { name = queue, description = $"change {i}" })) { }

        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/audit");
        // Keyboard only: Tab to the target filter, type its name, Enter shows the entries.
        B.TabTo("audit-target");
        B.Keys(queue);
        B.Submit(B.Focused(), Keys.Enter);
        Assert.Contains($"target={queue}", B.Driver.Url);
        var first = B.FindAll("#audit tbody tr").Select(r => r.GetAttribute("id")).ToList();
        Assert.Equal(50, first.Count);
        Assert.Contains("change 51", B.FindAll("#audit tbody tr")[0].Text + B.FindAll("#audit tbody tr")[0].FindElement(By.CssSelector("details.after pre")).GetAttribute("textContent"));

        // Blazor's enhanced navigation patches the page in place (the document is not replaced): wait for the next page's rows.
        B.Find("#audit-older").Click();
        new WebDriverWait(B.Driver, TimeSpan.FromSeconds(60)).Until(_ =>
        {
            try { return B.Driver.Url.Contains("cursor=", StringComparison.Ordinal) && B.FindAll("#audit tbody tr").Count == 3; }
            catch (WebDriverException) { return false; }
        });
        Assert.Contains("cursor=", B.Driver.Url);
        Assert.Contains($"target={queue}", B.Driver.Url);
        var second = B.FindAll("#audit tbody tr").Select(r => r.GetAttribute("id")).ToList();
        Assert.Equal(3, second.Count);
        Assert.Empty(first.Intersect(second));
        Assert.Contains("queue create", B.FindAll("#audit tbody tr")[^1].Text);
        Assert.Empty(B.FindAll("#audit-older"));
        Assert.Equal(queue, B.Find("#audit-target").GetAttribute("value"));
        B.Screenshot("settings-audit-older");

        B.Go($"/acme/settings/audit?project={project}");
        Assert.Contains("No entries match these filters", B.Text("#audit-empty"));
    }

    [Fact]
    public async Task Should_say_a_bad_filter_at_its_field_and_refuse_members()
    {
        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/audit?since=yesterday&kind=secret");
        Assert.Equal("Since must be an ISO 8601 timestamp (2026-12-04T15:30:00Z)", B.Text("#audit-since-error"));
        Assert.Equal("true", B.Find("#audit-since").GetAttribute("aria-invalid"));
        Assert.Equal("yesterday", B.Find("#audit-since").GetAttribute("value"));
        Assert.Single(B.FindAll(".message"));
        Assert.Empty(B.FindAll("#audit"));
        B.Go("/acme/settings/audit?cursor=not-a-cursor");
        Assert.StartsWith("This page of older entries is not one the list gave", B.Text("#audit-filter-message"));
        using (var admin = fx.ConsoleClient(B.Cookies()))
        using (var bad = await admin.GetAsync("/acme/settings/audit?until=2026-01-01T00:00:00Z&since=2026-02-01T00:00:00Z"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains("Until must not be before since", await bad.Content.ReadAsStringAsync());
        }

        B.SignInToConsole(fx.MemberKey);
        Assert.Empty(B.FindAll("nav[aria-label=Main] a[href='/acme/settings/audit']"));
        using var member = fx.ConsoleClient(B.Cookies());
        using var response = await member.GetAsync("/acme/settings/audit");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains("Only team admins can read the audit trail.", page);
        Assert.DoesNotContain("id=\"audit\"", page);
    }
}
