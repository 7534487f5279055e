using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Automations.Console.Tests;

/// <summary>
/// Team settings · Members in the console (headless Chromium): the list, adding a member and changing a role with one
/// message after the redirect, the last admin's refusal once at the field it concerns, removing after a confirmation,
/// and a member's read-only list.
/// </summary>
[Collection("browser")]
public class Managing_members_in_the_console(TeamSettingsFixture fx) : IClassFixture<TeamSettingsFixture>
{
    private Browser B => fx.Browser;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6];

    private string? Value(string css) => B.Driver.ExecuteScript("return document.querySelector(arguments[0]).value", css) as string;

    private int Occurrences(string text) => Regex.Count(B.Find("main").Text, Regex.Escape(text));

    /// <summary>alice is the team's only admin again (another test may have made someone admin).</summary>
    private async Task OnlyAliceIsAdminAsync()
    {
        using var list = await fx.CallAsync(HttpMethod.Get, "/v1/entities/acme/members");
        foreach (var m in (await list.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray())
            if (m.GetProperty("role").GetString() == "admin" && m.GetProperty("user").GetString() is var user and not "alice")
                (await fx.CallAsync(HttpMethod.Post, "/v1/entities/acme/members", new { user, role = "member" })).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task Should_list_the_members_add_one_and_change_a_role_with_one_message_each()
    {
        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/members");
        Assert.Equal("Members", B.Text("nav.tabs a[aria-current=page]"));
        Assert.Contains("alice", B.Text("#member-alice td[data-label=User]"));
        Assert.Equal("admin", Value("#role-alice"));
        Assert.Equal("member", Value("#role-bob"));
        Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$", B.Text("#member-bob td[data-label='Member since']"));

        // A name the Api refuses: its rule under the field, in the form's words.
        B.Fill("#member-user", "not a name!");
        B.Submit("#add-member button[type=submit]");
        Assert.StartsWith("User may contain letters", B.Text("#member-user-error"));
        Assert.Equal("true", B.Find("#member-user").GetAttribute("aria-invalid"));
        Assert.Equal("not a name!", B.Find("#member-user").GetAttribute("value"));

        var user = Unique("dave-");
        B.Fill("#member-user", user);
        B.Fill("#member-email", $"{user}@example.com");
        B.Submit("#add-member button[type=submit]");
        Assert.Equal("/acme/settings/members", B.Path0);
        Assert.Contains($"{user}@example.com", B.Text($"#member-{user} td[data-label=Email]"));
        Assert.Equal("member", Value($"#role-{user}"));
        Assert.Equal($"{user} added as member.", B.Text($"#member-{user}-message"));
        Assert.Single(B.FindAll(".message"));
        Assert.Empty(B.FindAll("#add-member .error"));
        B.Screenshot("settings-members");

        B.ChooseValue($"#role-{user}", "admin");
        B.Submit(B.Find($"button[aria-label='Change the role of {user}']"));
        Assert.Equal("/acme/settings/members", B.Path0);
        Assert.Equal("admin", Value($"#role-{user}"));
        Assert.Equal($"{user} is now admin.", B.Text($"#member-{user}-message"));
        Assert.Single(B.FindAll(".message"));
        using (var list = await fx.CallAsync(HttpMethod.Get, "/v1/entities/acme/members"))
            Assert.Contains((await list.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray(),
                m => m.GetProperty("user").GetString() == user && m.GetProperty("role").GetString() == "admin");

        B.Driver.Navigate().Refresh();
        Assert.Empty(B.FindAll(".message"));
        await OnlyAliceIsAdminAsync();
    }

    [Fact]
    public async Task Should_refuse_to_demote_or_remove_the_last_admin_once_at_the_field_it_concerns()
    {
        await OnlyAliceIsAdminAsync();
        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/members");

        B.ChooseValue("#role-alice", "member");
        B.Submit(B.Find("button[aria-label='Change the role of alice']"));
        Assert.Equal("/acme/settings/members", B.Path0);
        Assert.Equal("alice is the team's last admin: make another member admin first.", B.Text("#role-alice-error"));
        Assert.Equal(1, Occurrences("last admin"));
        Assert.Equal("true", B.Find("#role-alice").GetAttribute("aria-invalid"));
        Assert.Contains("role-alice-error", B.Find("#role-alice").GetAttribute("aria-describedby"));
        Assert.Equal("admin", Value("#role-alice"));
        Assert.Empty(B.FindAll("#add-member .message, #add-member .error"));
        Assert.DoesNotContain("entity", B.Find("main").Text);
        B.Screenshot("settings-members-last-admin");
        B.Driver.Navigate().Refresh();
        Assert.Equal(0, Occurrences("last admin"));

        // The add form sets a role too: the same refusal, under its Role.
        B.Fill("#member-user", "alice");
        B.ChooseValue("#member-role", "member");
        B.Submit("#add-member button[type=submit]");
        Assert.Contains("alice is the team's last admin", B.Text("#member-role-error"));
        Assert.Equal(1, Occurrences("last admin"));
        Assert.Equal("alice", B.Find("#member-user").GetAttribute("value"));

        // Removing: asked first, then refused next to the row, once.
        B.Follow(B.Find("a[aria-label='Remove member alice']"), "/acme/settings/members");
        Assert.Equal("Remove member “alice”?", B.Text("#confirm-delete-h"));
        B.Submit("#confirm-delete-button");
        Assert.Equal("/acme/settings/members", B.Path0);
        Assert.DoesNotContain("confirm=", B.Driver.Url);
        Assert.Equal("alice is the team's last admin: make another member admin first.", B.Text("#member-alice-message"));
        Assert.Equal(1, Occurrences("last admin"));
        Assert.Empty(B.FindAll("#confirm-delete"));
    }

    [Fact]
    public async Task Should_show_an_admin_who_makes_themselves_a_member_the_read_only_list_with_the_message_above_it()
    {
        var user = Unique("frank-");
        (await fx.CallAsync(HttpMethod.Post, "/v1/entities/acme/members", new { user, role = "admin" })).EnsureSuccessStatusCode();
        var key = (await fx.CreateAsync("/v1/entities/acme/keys", new { name = user + " key", scopes = new[] { "api" }, user })).GetProperty("key").GetString()!;
        B.SignInToConsole(key);
        B.Go("/acme/settings/members");
        B.ChooseValue($"#role-{user}", "member");
        B.Submit(B.Find($"button[aria-label='Change the role of {user}']"));
        Assert.Equal($"You ({user}) are now a member: team admins change the team's settings.", B.Text("#members-message"));
        Assert.Single(B.FindAll(".message"));
        Assert.Empty(B.FindAll("main form, main select"));
        Assert.Contains($"{user} (you)", B.Text($"#member-{user}"));
        await OnlyAliceIsAdminAsync();
    }

    [Fact]
    public async Task Should_remove_a_member_only_after_the_confirmation_and_revoke_their_key()
    {
        var user = Unique("erin-");
        (await fx.CallAsync(HttpMethod.Post, "/v1/entities/acme/members", new { user, role = "member" })).EnsureSuccessStatusCode();
        var key = (await fx.CreateAsync("/v1/entities/acme/keys", new { name = user + " key", scopes = new[] { "api" }, user })).GetProperty("key").GetString();

        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/members");
        B.Follow(B.Find($"a[aria-label='Remove member {user}']"), "/acme/settings/members");
        Assert.Contains("confirm=", B.Driver.Url);
        Assert.Equal($"Remove member “{user}”?", B.Text("#confirm-delete-h"));
        Assert.Contains("API keys for it are revoked", B.Text("#confirm-delete-text"));
        Assert.Contains("It cannot be undone.", B.Text("#confirm-delete-text"));
        B.Screenshot("settings-members-confirm");

        B.Follow(B.Find("#confirm-delete-cancel"), "/acme/settings/members");
        Assert.DoesNotContain("confirm=", B.Driver.Url);
        Assert.Empty(B.FindAll("#confirm-delete"));
        Assert.Single(B.FindAll($"#member-{user}"));

        B.Follow(B.Find($"a[aria-label='Remove member {user}']"), "/acme/settings/members");
        B.Submit("#confirm-delete-button");
        Assert.Equal("/acme/settings/members", B.Path0);
        Assert.DoesNotContain("confirm=", B.Driver.Url);
        Assert.Equal($"{user} removed from the team; their API keys for it are revoked.", B.Text("#members-message"));
        Assert.Single(B.FindAll(".message"));
        Assert.Empty(B.FindAll($"#member-{user}"));
        using var me = await fx.CallAsync(HttpMethod.Get, "/v1/me", key: key);
        Assert.False(me.IsSuccessStatusCode);
    }

    [Fact]
    public async Task Should_show_a_member_the_list_without_any_form_and_another_teams_page_as_404()
    {
        B.SignInToConsole(fx.MemberKey);
        B.Go("/acme/settings/members");
        Assert.Contains("alice", B.Text("#members"));
        Assert.Contains("bob (you)", B.Text("#members"));
        Assert.Empty(B.FindAll("main form, main select, #add-member, a[aria-label^='Remove member']"));
        Assert.Contains("Only team admins", B.Text("#members-note"));
        B.Screenshot("settings-members-member");
        B.Go("/acme/settings/members?confirm=alice");
        Assert.Equal("Forbidden", B.Text("#refused-h"));
        Assert.Empty(B.FindAll("#confirm-delete, main form"));

        using var member = fx.ConsoleClient(B.Cookies());
        using (var own = await member.GetAsync("/acme/settings/members"))
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        using (var confirm = await member.GetAsync("/acme/settings/members?confirm=alice"))
            Assert.Equal(HttpStatusCode.Forbidden, confirm.StatusCode);
        using var other = await member.GetAsync("/globex/settings/members");
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        Assert.DoesNotContain("carol", await other.Content.ReadAsStringAsync());
    }
}
