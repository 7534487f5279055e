using System.Net;
using System.Text.Json;
using Automations.Contracts;
using Automations.Testing;
using Dapper;
using static Automations.Api.Tests.Applying_a_team_configuration;

namespace Automations.Api.Tests;

/// <summary>
/// A configuration file's `teamAutomations`: planned, applied, pruned and exported as the project automations are,
/// validated as the team create endpoint validates them. Each test has its own team.
/// </summary>
public class Applying_team_automations_as_code(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private static string File(string team, string regex = "^vision", bool enabled = true, bool second = true) =>
        $$$"""
        version: 1
        entity: {{{team}}}
        webhooks:
          - name: github dispatch
            url: https://api.github.com/repos/acme/mnist/dispatches
            accessToken: GITHUB_TOKEN
        teamAutomations:
          - name: failed vision runs
            enabled: {{{(enabled ? "true" : "false")}}}
            event:
              type: RUN_STATE
              state: failed
              projectRegex: {{{regex}}}
            action:
              type: webhook
              webhook: github dispatch
              payload: |
                {"event_type": "failed", "client_payload": {"author": "${event_author}"}}
        """ + (second ? "\n  - name: watch everything\n    event: {type: RUN_STATE, state: crashed}\n    action: {type: no_op}\n" : "\n");

    private Task<(HttpStatusCode Status, JsonElement Body, string Text)> Send(Team team, string action, string yaml, string query = "") =>
        SendAsync(fx.Api.Client, team, action, yaml, query);

    private static string Action(JsonElement plan, string name) =>
        plan.GetProperty("changes").EnumerateArray()
            .Single(c => c.GetProperty("kind").GetString() == "team_automation" && c.GetProperty("name").GetString() == name).GetProperty("action").GetString()!;

    private async Task<string[]> TeamListAsync(Team team)
    {
        var list = await fx.GetAsync($"/v1/entities/{team.Name}/automations", team.Key);
        Assert.Equal(HttpStatusCode.OK, list.Status);
        return list.Body.EnumerateArray().Select(a => $"{a.GetProperty("name").GetString()} {a.GetProperty("enabled").GetBoolean()}").ToArray();
    }

    private async Task<string> ExportAsync(Team team)
    {
        var export = await fx.CallAsync(HttpMethod.Get, $"/v1/entities/{team.Name}/config/export", null, team.Key);
        Assert.Equal(HttpStatusCode.OK, export.Status);
        return export.Text;
    }

    [Fact]
    public async Task Should_create_team_automations_the_team_list_shows_and_export_them_so_that_the_export_plans_no_change()
    {
        var team = await NewTeamAsync(fx);
        await using var probe = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(AutomationsChanged));

        var applied = await Send(team, "apply", File(team.Name));
        Assert.Equal(HttpStatusCode.OK, applied.Status);
        Assert.Equal("create", Action(applied.Body, "failed vision runs"));
        Assert.Equal(["failed vision runs True", "watch everything True"], await TeamListAsync(team));
        var row = (await fx.GetAsync($"/v1/entities/{team.Name}/automations", team.Key)).Body.EnumerateArray().First();
        Assert.Equal(("team", "^vision"), (row.GetProperty("scope").GetString(), row.GetProperty("projectRegex").GetString()));

        // Rules hears of it as of the team create endpoint: the team scope.
        var changed = await probe.WaitForAsync(d => d.Message.GetProperty("entity").GetString() == team.Name);
        Assert.True(changed[0].Message.GetProperty("team").GetBoolean());

        // The apply's audit entries name each team automation it created.
        await using (var c = await fx.DataSource.OpenConnectionAsync())
        {
            var audited = await c.QueryAsync<string>(
                "select a.target_name from control.audit a join control.entities e on e.id = a.entity_id where e.name = @team and a.kind = 'team_automation' and a.action = 'create' order by 1",
                new { team = team.Name });
            Assert.Equal(["failed vision runs", "watch everything"], audited.ToArray());
        }

        var export = await ExportAsync(team);
        Assert.Contains("teamAutomations:", export, StringComparison.Ordinal);
        Assert.Contains("projectRegex: ^vision", export, StringComparison.Ordinal);
        var plan = await Send(team, "plan", export, "?prune=true");
        Assert.Equal(HttpStatusCode.OK, plan.Status);
        Assert.False(plan.Body.GetProperty("changed").GetBoolean(), plan.Text);
        Assert.Equal("unchanged", Action(plan.Body, "watch everything"));
    }

    [Fact]
    public async Task Should_change_nothing_when_a_team_automation_is_invalid_and_name_its_path()
    {
        var team = await NewTeamAsync(fx);
        foreach (var action in new[] { "plan", "apply" })
        {
            var answer = await Send(team, action, File(team.Name, regex: "\"(unclosed\""));
            Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
            Assert.Equal(["teamAutomations[0].event.projectRegex"], answer.Body.GetProperty("errors").EnumerateObject().Select(e => e.Name).ToArray());
        }
        Assert.Empty(await TeamListAsync(team));
        Assert.Equal(0, (await fx.GetAsync($"/v1/entities/{team.Name}/webhooks", team.Key)).Body.GetArrayLength());
    }

    [Fact]
    public async Task Should_update_a_changed_team_automation_and_prune_one_the_file_does_not_name()
    {
        var team = await NewTeamAsync(fx);
        Assert.Equal(HttpStatusCode.OK, (await Send(team, "apply", File(team.Name))).Status);

        var plan = await Send(team, "plan", File(team.Name, enabled: false));
        Assert.Equal("update", Action(plan.Body, "failed vision runs"));
        Assert.Equal(["enabled"], plan.Body.GetProperty("changes").EnumerateArray()
            .Single(c => c.GetProperty("name").GetString() == "failed vision runs").GetProperty("fields").EnumerateArray().Select(f => f.GetString()!).ToArray());
        Assert.Equal("unchanged", Action(plan.Body, "watch everything"));
        Assert.Equal(HttpStatusCode.OK, (await Send(team, "apply", File(team.Name, enabled: false))).Status);
        Assert.Equal(["failed vision runs False", "watch everything True"], await TeamListAsync(team));

        var smaller = File(team.Name, enabled: false, second: false);
        var kept = await Send(team, "apply", smaller);
        Assert.Equal("unmanaged", Action(kept.Body, "watch everything"));
        Assert.Equal(2, (await TeamListAsync(team)).Length);

        var pruned = await Send(team, "apply", smaller, "?prune=true");
        Assert.Equal(HttpStatusCode.OK, pruned.Status);
        Assert.Equal("delete", Action(pruned.Body, "watch everything"));
        Assert.Equal(["failed vision runs False"], await TeamListAsync(team));
    }

    [Fact]
    public async Task Should_refuse_to_prune_a_webhook_that_a_listed_team_automation_uses()
    {
        var team = await NewTeamAsync(fx);
        Assert.Equal(HttpStatusCode.OK, (await Send(team, "apply", File(team.Name))).Status);
        var withoutWebhooks = File(team.Name).Replace(
            "webhooks:\n  - name: github dispatch\n    url: https://api.github.com/repos/acme/mnist/dispatches\n    accessToken: GITHUB_TOKEN\n", "",
            StringComparison.Ordinal);
        Assert.DoesNotContain("webhooks:", withoutWebhooks, StringComparison.Ordinal);

        var answer = await Send(team, "apply", withoutWebhooks, "?prune=true");
        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Equal(["teamAutomations[0].action.webhook"], answer.Body.GetProperty("errors").EnumerateObject().Select(e => e.Name).ToArray());
        Assert.Equal(1, (await fx.GetAsync($"/v1/entities/{team.Name}/webhooks", team.Key)).Body.GetArrayLength());
    }
}
