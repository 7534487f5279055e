using Dapper;

namespace Automations.Console.Tests;

/// <summary>The New automation wizard's Preview: a sample event against the automation as filled in, before saving.</summary>
[Collection("browser")]
public class Previewing_in_the_wizard(ConsoleFixture fx) : IClassFixture<ConsoleFixture>
{
    private Browser B => fx.Browser;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task Should_name_the_refusing_filter_then_show_the_request_with_the_secret_masked_and_save_nothing()
    {
        var secret = Unique("PREVIEW_TOKEN_").ToUpperInvariant();
        const string value = "preview-secret-value-0123456789";
        var hook = Unique("preview-hook-");
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name = secret, value });
        await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url("/deploy"), secret, accessToken = secret });

        var project = Unique("preview-");
        var name = Unique("deploy ");
        B.SignIn(fx.MemberKey);
        B.Go($"/console/acme/projects/{project}/automations/new");
        B.ChooseValue("#event-type", "ADD_ARTIFACT_ALIAS");
        B.Fill("#alias-regex", "^prod$");
        B.ChooseValue("#webhook", hook);
        B.SetValue("#payload", $$"""{"version":"${artifact_version_string}","token":"${{{secret}}}"}""");
        B.Fill("#automation-name", name);
        // The wizard's own sample: an ADD_ARTIFACT_ALIAS of "production" in this project.
        Assert.Contains(project, B.Find("#sample").GetAttribute("value") ?? "");
        B.ClickAndWait("#preview-button");
        Assert.Contains("Does not match", B.Text("#preview-result"));
        Assert.Contains("event.aliasRegex", B.Text("#preview-result"));
        Assert.Equal("^prod$", B.Find("#alias-regex").GetAttribute("value"));

        B.Fill("#alias-regex", "^production$");
        B.ClickAndWait("#preview-button");
        Assert.Contains("Matches", B.Text("#preview-result"));
        Assert.Contains($"acme/{project}/eval-set:production", B.Text("#preview-body"));
        Assert.Contains("${" + secret + "}", B.Text("#preview-body"));
        Assert.Contains("webhook-signature: v1,********", B.Text("#preview-headers"));
        Assert.DoesNotContain(value, B.Source);
        B.Screenshot("automation-new-preview");

        B.SetValue("#sample", "{\"eventId\":\"x\"}");
        B.ClickAndWait("#preview-button");
        Assert.Contains("sample.eventType", B.Text("#sample-error"));

        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<int>("select count(*) from control.automations where project = @project", new { project }));
    }

    [Fact]
    public async Task Should_say_whether_a_team_automations_project_regex_finds_the_samples_project()
    {
        var name = Unique("team preview ");
        B.SignIn(fx.AdminKey);
        B.Go("/console/acme/automations/new");
        B.Fill("#project-regex", "^prod-");
        B.ChooseValue("#event-type", "CREATE_ARTIFACT");
        B.Fill("#collection", "eval-set");
        B.Find("input[name=actionType][value=no_op]").Click();
        B.Fill("#automation-name", name);

        static string Sample(string project) =>
            $$"""{"eventId":"p-1","eventType":"CREATE_ARTIFACT","entity":"acme","project":"{{project}}","collection":"eval-set","versionIndex":3,"occurredAt":"2026-11-27T22:41:00Z"}""";
        B.SetValue("#sample", Sample("mnist"));
        B.ClickAndWait("#preview-button");
        Assert.Contains("Does not match", B.Text("#preview-result"));
        Assert.Contains("event.projectRegex", B.Text("#preview-result"));
        Assert.Contains("does not find", B.Text("#preview-project"));
        Assert.Equal("^prod-", B.Find("#project-regex").GetAttribute("value"));

        B.SetValue("#sample", Sample("prod-mnist"));
        B.ClickAndWait("#preview-button");
        Assert.Contains("Matches", B.Text("#preview-result"));
        Assert.Contains("finds the sample's project", B.Text("#preview-project"));
        B.Screenshot("team-automation-new-preview");

        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<int>("select count(*) from control.automations where name = @name", new { name }));
    }
}
