using System.Net;
using Dapper;
using OpenQA.Selenium;

namespace Automations.Console.Tests;

/// <summary>
/// The team's Automations page: an admin creates a team automation with a project regex in the wizard; a project's
/// Automations tab shows it marked "team", without a row menu, where the regex finds the project; a member reads it
/// but gets neither the wizard nor a row menu.
/// </summary>
[Collection("browser")]
public class Managing_team_automations_in_the_console(ConsoleFixture fx) : IClassFixture<ConsoleFixture>
{
    private Browser B => fx.Browser;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task Should_create_one_as_an_admin_and_show_it_read_only_in_the_projects_it_watches()
    {
        var name = Unique("prod models ");
        B.SignIn(fx.AdminKey);
        B.Go("/console/acme/automations");
        B.ClickAndWait(B.Driver.FindElement(By.LinkText("New team automation")));
        Assert.Equal("/console/acme/automations/new", B.Path0);
        B.Fill("#project-regex", "(unclosed");
        B.ChooseValue("#event-type", "CREATE_ARTIFACT");
        B.Fill("#collection", "model");
        B.Find("input[name=actionType][value=no_op]").Click();
        B.Fill("#automation-name", name);
        B.ClickAndWait("#new-automation button[type=submit]");
        Assert.Contains("not a valid regular expression", B.Text("#project-regex-error"));
        B.Fill("#project-regex", "^prod-");
        B.Screenshot("team-automation-new");
        B.ClickAndWait("#new-automation button[type=submit]");
        Assert.Equal("/console/acme/automations", B.Path0);
        Assert.Contains(name, B.Text("#automations"));
        Assert.Contains("^prod-", B.Text("#automations"));

        await using var c = await fx.DataSource.OpenConnectionAsync();
        var id = await c.QuerySingleAsync<Guid>("select id from control.automations where scope = 'team' and project is null and project_regex = '^prod-' and name = @name", new { name });

        var project = Unique("prod-");
        B.Go($"/console/acme/projects/{project}/automations");
        var row = B.Find($"#automations tr[data-id='{id}']");
        Assert.Equal("team", row.GetAttribute("data-scope"));
        Assert.Contains("team", row.Text);
        Assert.Empty(row.FindElements(By.CssSelector("details.menu, form")));
        B.Screenshot("project-with-team-automation");
        B.ClickAndWait(row.FindElement(By.LinkText(name)));
        Assert.Equal($"/console/acme/automations/{id}", B.Path0);
        Assert.Contains("every project whose name matches", B.Source);

        B.Go($"/console/acme/projects/{Unique("dev-")}/automations");
        Assert.Empty(B.FindAll($"tr[data-id='{id}']"));
    }

    [Fact]
    public async Task Should_let_a_member_read_team_automations_but_not_open_the_wizard_or_a_row_menu()
    {
        var created = await fx.CreateAsync("/v1/entities/acme/automations", new
        {
            name = Unique("team read "), @event = new { type = "CREATE_ARTIFACT", collection = "model" }, action = new { type = "no_op" },
        });
        var id = created.GetProperty("id").GetGuid();
        B.SignIn(fx.MemberKey);
        B.Go("/console/acme/automations");
        var row = B.Find($"#automations tr[data-id='{id}']");
        Assert.Empty(row.FindElements(By.CssSelector("details.menu, form")));
        Assert.Empty(B.Driver.FindElements(By.LinkText("New team automation")));

        B.Go("/console/acme/automations/new");
        Assert.Equal("Forbidden", B.Title);
        Assert.Empty(B.FindAll("#new-automation"));
        using var http = fx.CookieClient(B.Cookie("automations.console"));
        using var page = await http.GetAsync("/console/acme/automations/new");
        Assert.Equal(HttpStatusCode.Forbidden, page.StatusCode);
    }
}
