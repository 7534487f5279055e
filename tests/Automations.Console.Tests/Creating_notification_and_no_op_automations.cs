using Dapper;
using OpenQA.Selenium;

namespace Automations.Console.Tests;

/// <summary>The console's Integrations page and the notification and no-op action types of the New automation wizard.</summary>
[Collection("browser")]
public class Creating_notification_and_no_op_automations(ConsoleFixture fx) : IClassFixture<ConsoleFixture>
{
    private Browser B => fx.Browser;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task Should_add_a_slack_integration_shown_masked_and_create_both_automations_with_it()
    {
        const string secretPart = "consoleSECRETpart0123456789";
        var integration = Unique("ml alerts ");
        B.SignIn(fx.AdminKey);
        B.Go("/console/acme/settings/integrations");
        B.Fill("#integration-name", integration);
        B.ChooseValue("#integration-kind", "slack");
        B.Fill("#integration-url", fx.Receiver.Url("/services/T1/B2/" + secretPart));
        B.ClickAndWait("#new-integration button[type=submit]");
        Assert.Contains(integration, B.Text("#integrations"));
        Assert.Contains("********", B.Text("#integrations"));
        Assert.DoesNotContain(secretPart, B.Source);
        B.Screenshot("integrations");

        var project = Unique("mnist-");
        B.Go($"/console/acme/projects/{project}/automations/new");
        B.ChooseValue("#event-type", "CREATE_ARTIFACT");
        B.Fill("#collection", "mnist-model");
        B.Find("input[name=actionType][value=notification]").Click();
        Assert.True(B.Find("#title").Displayed);
        Assert.False(B.Find("#payload").Displayed);
        B.ChooseValue("#integration", integration);
        B.SetValue("#title", "New ${artifact_collection_name} version");
        B.SetValue("#text", "${NO_SUCH_SECRET}");
        B.ChooseValue("#severity", "error");
        var notify = Unique("notify ");
        B.Fill("#automation-name", notify);
        B.ClickAndWait("#new-automation button[type=submit]");
        Assert.Contains("NO_SUCH_SECRET", B.Text("#text-error"));
        B.SetValue("#text", "*${artifact_version_string}* by ${event_author}");
        B.Screenshot("automation-new-notification");
        B.ClickAndWait("#new-automation button[type=submit]");
        Assert.Equal($"/console/acme/projects/{project}/automations", B.Path0);

        B.ClickAndWait(B.Driver.FindElement(By.LinkText("New automation")));
        B.ChooseValue("#event-type", "CREATE_ARTIFACT");
        B.Fill("#collection", "mnist-model");
        B.Find("input[name=actionType][value=no_op]").Click();
        var noop = Unique("try trigger ");
        B.Fill("#automation-name", noop);
        B.ClickAndWait("#new-automation button[type=submit]");
        Assert.Equal($"/console/acme/projects/{project}/automations", B.Path0);

        var rows = B.FindAll("#automations tbody tr").Select(r => r.FindElements(By.TagName("td")).Select(c => c.Text).ToArray()).ToList();
        Assert.Contains(rows, c => c[0] == notify && c[2] == "notification" && c[3] == integration);
        Assert.Contains(rows, c => c[0] == noop && c[2] == "no_op");
        await using var c = await fx.DataSource.OpenConnectionAsync();
        var stored = await c.QuerySingleAsync<(string Title, string Text, string Severity)>(
            "select notification_title, notification_text, notification_severity from control.automations where project = @project and name = @notify", new { project, notify });
        Assert.Equal(("New ${artifact_collection_name} version", "*${artifact_version_string}* by ${event_author}", "error"), stored);
    }
}
