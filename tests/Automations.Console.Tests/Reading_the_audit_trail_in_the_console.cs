using System.Net;

namespace Automations.Console.Tests;

/// <summary>Team settings · Audit: admins see the trail (filtered, paged, never a secret value); members get 403.</summary>
[Collection("browser")]
public class Reading_the_audit_trail_in_the_console(ConsoleFixture fx) : IClassFixture<ConsoleFixture>
{
    private Browser B => fx.Browser;

    [Fact]
    public async Task Should_list_the_changes_to_an_admin_with_filters_and_no_secret_value()
    {
        var name = "AUDIT_" + Guid.NewGuid().ToString("N")[..6].ToUpperInvariant();
        const string value = "ghp-audit-console-value-9f8e7d";
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name, value });
        await fx.CreateAsync("/v1/entities/acme/queues", new { name = "audit-" + Guid.NewGuid().ToString("N")[..6] });

        B.SignIn(fx.AdminKey);
        B.Go("/console/acme/settings/audit");
        Assert.Equal("Team settings · Audit", B.Title);
        var row = B.FindAll("#audit tbody tr").First(r => r.Text.Contains(name, StringComparison.Ordinal));
        Assert.Contains("alice", row.Text);
        Assert.Contains("secret", row.Text);
        Assert.Contains("create", row.Text);
        Assert.DoesNotContain(value, B.Source);
        Assert.Contains("History is kept for 30 days", B.Source);
        B.Screenshot("audit");

        B.ChooseValue("#audit-kind", "secret");
        B.ClickAndWait("#audit-filter button[type=submit]");
        Assert.All(B.FindAll("#audit tbody tr"), r => Assert.Contains("secret", r.Text));

        B.Go("/console/acme/settings/audit?since=yesterday");
        Assert.Contains("ISO 8601", B.Text("#audit-since-error"));

        B.SignIn(fx.MemberKey);
        using var member = fx.CookieClient(B.Cookie("automations.console"));
        using var response = await member.GetAsync("/console/acme/settings/audit");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }
}
