using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Automations.Api.TeamConfig;
using Automations.Contracts;
using Automations.Persistence.Control;
using Automations.Testing;
using Dapper;
using Json.Schema;

namespace Automations.Api.Tests;

/// <summary>
/// Automations as code: export, plan and apply of a team's configuration file (POST /config/plan, /config/apply,
/// GET /config/export). Each test has its own team, so one test's state is not another's.
/// </summary>
public class Applying_a_team_configuration(ApiFixture fx) : IClassFixture<ApiFixture>
{
    internal const string GitHubToken = "ghp_TOPSECRETvalue0123456789";
    internal const string SlackUrl = "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstWXYZ";
    private static readonly string[] SecretValues = [GitHubToken, "abcdefghijklmnopqrst"];

    internal sealed record Team(string Name, string Key);

    /// <summary>A new team with an admin key, the two secrets the files name, and a launch job `retrain` version 1.</summary>
    internal static async Task<Team> NewTeamAsync(ApiFixture fx)
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var created = await Bootstrap.CreateEntityWithAdminAsync(fx.DataSource, "team-" + suffix, "admin-" + suffix);
        var team = new Team("team-" + suffix, created.ApiKey);
        Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync($"/v1/entities/{team.Name}/secrets", new { name = "GITHUB_TOKEN", value = GitHubToken }, team.Key)).Status);
        Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync($"/v1/entities/{team.Name}/secrets", new { name = "SLACK_URL", value = SlackUrl }, team.Key)).Status);
        var job = await fx.PostAsync($"/v1/entities/{team.Name}/jobs", new { name = "retrain" }, team.Key);
        Assert.Equal(HttpStatusCode.Created, job.Status);
        Assert.Equal(HttpStatusCode.Created,
            (await fx.PostAsync($"/v1/entities/{team.Name}/jobs/{job.Body.GetProperty("id").GetGuid()}/versions", new { command = "python", args = new[] { "train.py" } }, team.Key)).Status);
        return team;
    }

    /// <summary>Every kind of object and action the file holds.</summary>
    internal static string FullFile(string team) =>
        $$$"""
        version: 1
        entity: {{{team}}}
        webhooks:
          - name: github dispatch
            url: https://api.github.com/repos/acme/mnist/dispatches
            accessToken: GITHUB_TOKEN
        integrations:
          - name: ml alerts
            kind: slack
            urlSecret: SLACK_URL
        queues:
          - name: gpu
            description: The GPU pool
        automations:
          - project: mnist
            name: evaluate new eval sets
            event:
              type: CREATE_ARTIFACT
              collection: eval-set
            action:
              type: webhook
              webhook: github dispatch
              payload: |
                {"event_type": "evaluate", "client_payload": {"version": "${artifact_version_string}", "author": "${event_author}"}}
          - project: mnist
            name: tell the team
            enabled: false
            event:
              type: ADD_ARTIFACT_ALIAS
              collection: model
              aliasRegex: ^production$
            action:
              type: notification
              integration: ml alerts
              title: New ${artifact_collection_name} in production
              text: "*${artifact_version_string}* by ${event_author}"
              severity: warning
          - project: vision
            name: retrain
            event:
              type: ADD_ARTIFACT_ALIAS
              collection: model
              aliasRegex: staging
            action:
              type: launch
              job: retrain
              jobVersion: 1
              queue: gpu
              overrides:
                epochs: 10
                lr: 0.001
          - project: vision
            name: watch failures
            event:
              type: RUN_STATE
              state: failed
            action:
              type: no_op
        """;

    internal static async Task<(HttpStatusCode Status, JsonElement Body, string Text)> SendAsync(HttpClient client, Team team, string action, string yaml, string query = "",
        string? key = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/entities/{team.Name}/config/{action}{query}")
        {
            Content = new StringContent(yaml, Encoding.UTF8, "application/yaml"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key ?? team.Key);
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.StartsWith('{') ? JsonDocument.Parse(text).RootElement.Clone() : default, text);
    }

    private Task<(HttpStatusCode Status, JsonElement Body, string Text)> PlanAsync(Team team, string yaml, string query = "") => SendAsync(fx.Api.Client, team, "plan", yaml, query);
    private Task<(HttpStatusCode Status, JsonElement Body, string Text)> ApplyAsync(Team team, string yaml, string query = "") => SendAsync(fx.Api.Client, team, "apply", yaml, query);

    private async Task<string> ExportAsync(Team team)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/entities/{team.Name}/config/export");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", team.Key);
        using var response = await fx.Api.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/yaml", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadAsStringAsync();
    }

    private static Dictionary<string, int> Summary(JsonElement plan) =>
        plan.GetProperty("summary").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());

    private static string Action(JsonElement plan, string kind, string name) =>
        plan.GetProperty("changes").EnumerateArray()
            .Single(c => c.GetProperty("kind").GetString() == kind && c.GetProperty("name").GetString() == name).GetProperty("action").GetString()!;

    /// <summary>The team's rows the file describes, one line each, as one comparable text (ids and timestamps left out).</summary>
    private async Task<string> RowsAsync(Team team)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        var rows = await c.QueryAsync<string>(
            """
            select 'webhook ' || w.name || ' ' || w.kind || ' ' || w.url || ' ' || coalesce(w.access_token_secret_id::text, '-') from control.webhooks w
              join control.entities e on e.id = w.entity_id where e.name = @team
            union all
            select 'queue ' || q.name || ' ' || coalesce(q.description, '-') from control.launch_queues q join control.entities e on e.id = q.entity_id where e.name = @team
            union all
            select 'automation ' || a.project || '/' || a.name || ' ' || a.enabled || ' ' || a.event_type || ' ' || replace(coalesce(a.payload, '-'), chr(10), ' ') || ' ' || coalesce(a.overrides::text, '-')
              from control.automations a join control.entities e on e.id = a.entity_id where e.name = @team
            order by 1
            """, new { team = team.Name });
        return string.Join("\n", rows);
    }

    [Fact]
    public async Task Should_plan_apply_and_export_a_team_so_that_the_export_plans_no_change()
    {
        var team = await NewTeamAsync(fx);
        await using var probe = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(AutomationsChanged));
        var file = FullFile(team.Name);

        var plan = await PlanAsync(team, file);
        Assert.Equal(HttpStatusCode.OK, plan.Status);
        Assert.True(plan.Body.GetProperty("changed").GetBoolean());
        Assert.Equal(7, Summary(plan.Body)["create"]);
        Assert.Equal("create", Action(plan.Body, "automation", "evaluate new eval sets"));
        Assert.Equal("", await RowsAsync(team)); // a plan changes nothing

        var applied = await ApplyAsync(team, file, $"?version={plan.Body.GetProperty("version").GetString()}");
        Assert.Equal(HttpStatusCode.OK, applied.Status);
        Assert.True(applied.Body.GetProperty("applied").GetBoolean());
        Assert.NotEqual(applied.Body.GetProperty("version").GetString(), applied.Body.GetProperty("versionAfter").GetString());
        var automations = (await fx.GetAsync($"/v1/entities/{team.Name}/projects/mnist/automations", team.Key)).Body;
        Assert.Equal(["evaluate new eval sets", "tell the team"], automations.EnumerateArray().Select(a => a.GetProperty("name").GetString()!).ToArray());

        // The same writes as the endpoints: Rules hears of both projects.
        var changed = await probe.WaitForAsync(d => d.Message.GetProperty("entity").GetString() == team.Name, count: 2);
        Assert.Equal(["mnist", "vision"], changed.Select(d => d.Message.GetProperty("project").GetString()!).Order().ToArray());

        var again = await PlanAsync(team, file);
        Assert.False(again.Body.GetProperty("changed").GetBoolean());
        Assert.Equal(7, Summary(again.Body)["unchanged"]);
        Assert.Equal(applied.Body.GetProperty("versionAfter").GetString(), again.Body.GetProperty("version").GetString());

        var export = await ExportAsync(team);
        var fromExport = await PlanAsync(team, export);
        Assert.Equal(HttpStatusCode.OK, fromExport.Status);
        Assert.False(fromExport.Body.GetProperty("changed").GetBoolean(), fromExport.Text);
        Assert.Equal(7, Summary(fromExport.Body)["unchanged"]);
        Assert.Contains("urlSecret: SLACK_URL", export, StringComparison.Ordinal);
        Assert.Contains("accessToken: GITHUB_TOKEN", export, StringComparison.Ordinal);

        foreach (var text in new[] { plan.Text, applied.Text, again.Text, export, fromExport.Text })
        foreach (var secret in SecretValues)
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        Assert.DoesNotContain(fx.Logs.Lines, l => SecretValues.Any(s => l.Contains(s, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Should_change_nothing_when_one_automation_is_invalid_and_name_its_path()
    {
        var team = await NewTeamAsync(fx);
        var file = FullFile(team.Name).Replace("aliasRegex: staging", "aliasRegex: \"(unclosed\"", StringComparison.Ordinal);

        foreach (var action in new[] { "plan", "apply" })
        {
            var answer = await SendAsync(fx.Api.Client, team, action, file);
            Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
            var errors = answer.Body.GetProperty("errors").EnumerateObject().Select(e => e.Name).ToArray();
            Assert.Equal(["automations[2].event.aliasRegex"], errors);
            Assert.NotEmpty(ApiFixture.ErrorsOf(answer.Body, "automations[2].event.aliasRegex")[0]);
            // The line of that field in the file, for editors and the CLI.
            var line = answer.Body.GetProperty("lines").GetProperty("automations[2].event.aliasRegex").GetInt32();
            Assert.Contains("aliasRegex: \"(unclosed\"", file.Split('\n')[line - 1], StringComparison.Ordinal);
        }
        // Nothing of the valid objects before it (webhook, integration, queue, two automations) was kept.
        Assert.Equal("", await RowsAsync(team));
    }

    [Fact]
    public async Task Should_leave_one_state_when_the_same_file_is_applied_twice_at_once()
    {
        var team = await NewTeamAsync(fx);
        var file = FullFile(team.Name);
        var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => ApplyAsync(team, file)));
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        // Serialized per team: exactly one of them created; the others found everything in place.
        Assert.Single(answers, a => a.Body.GetProperty("changed").GetBoolean());
        Assert.Equal(3, answers.Count(a => Summary(a.Body)["unchanged"] == 7));

        var rows = await RowsAsync(team);
        Assert.Equal(7, rows.Split('\n').Length);
        Assert.False((await PlanAsync(team, file)).Body.GetProperty("changed").GetBoolean());
    }

    [Fact]
    public async Task Should_refuse_an_apply_against_a_state_changed_since_the_plan_unless_forced()
    {
        var team = await NewTeamAsync(fx);
        var file = FullFile(team.Name);
        var plan = await PlanAsync(team, file);
        var version = plan.Body.GetProperty("version").GetString();

        // Someone changes the team meanwhile.
        Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync($"/v1/entities/{team.Name}/queues", new { name = "cpu" }, team.Key)).Status);
        var before = await RowsAsync(team);

        var stale = await ApplyAsync(team, file, $"?version={version}");
        Assert.Equal(HttpStatusCode.Conflict, stale.Status);
        Assert.Equal("version", stale.Body.GetProperty("field").GetString());
        Assert.NotEqual(version, stale.Body.GetProperty("version").GetString());
        Assert.Equal(before, await RowsAsync(team));

        var forced = await ApplyAsync(team, file, $"?version={version}&force=true");
        Assert.Equal(HttpStatusCode.OK, forced.Status);
        Assert.Equal(7, Summary(forced.Body)["create"]);
        Assert.Equal("unmanaged", Action(forced.Body, "queue", "cpu"));
    }

    [Fact]
    public async Task Should_delete_what_the_file_does_not_name_only_with_prune()
    {
        var team = await NewTeamAsync(fx);
        Assert.Equal(HttpStatusCode.OK, (await ApplyAsync(team, FullFile(team.Name))).Status);
        var smaller =
            $$"""
            version: 1
            entity: {{team.Name}}
            queues:
              - name: gpu
                description: The GPU pool
            automations:
              - project: vision
                name: watch failures
                event: {type: RUN_STATE, state: failed}
                action: {type: no_op}
            """;

        var kept = await ApplyAsync(team, smaller);
        Assert.Equal(HttpStatusCode.OK, kept.Status);
        Assert.False(kept.Body.GetProperty("changed").GetBoolean());
        Assert.Equal(5, Summary(kept.Body)["unmanaged"]);
        Assert.Equal(7, (await RowsAsync(team)).Split('\n').Length);

        var plan = await PlanAsync(team, smaller, "?prune=true");
        Assert.Equal(5, Summary(plan.Body)["delete"]);
        Assert.Equal("delete", Action(plan.Body, "automation", "retrain"));
        Assert.Equal(7, (await RowsAsync(team)).Split('\n').Length);

        var pruned = await ApplyAsync(team, smaller, "?prune=true");
        Assert.Equal(HttpStatusCode.OK, pruned.Status);
        Assert.Equal(5, Summary(pruned.Body)["delete"]);
        Assert.Equal(["automation vision/watch failures true RUN_STATE - -", "queue gpu The GPU pool"], (await RowsAsync(team)).Split('\n'));
        var export = await ExportAsync(team);
        Assert.DoesNotContain("github dispatch", export, StringComparison.Ordinal);
        Assert.False((await PlanAsync(team, export, "?prune=true")).Body.GetProperty("changed").GetBoolean());
    }

    [Fact]
    public async Task Should_refuse_to_prune_a_webhook_that_a_listed_automation_uses()
    {
        var team = await NewTeamAsync(fx);
        Assert.Equal(HttpStatusCode.OK, (await ApplyAsync(team, FullFile(team.Name))).Status);
        var before = await RowsAsync(team);
        var withoutWebhook = FullFile(team.Name).Replace(
            """
            webhooks:
              - name: github dispatch
                url: https://api.github.com/repos/acme/mnist/dispatches
                accessToken: GITHUB_TOKEN

            """, "", StringComparison.Ordinal);
        var answer = await ApplyAsync(team, withoutWebhook, "?prune=true");
        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Contains("prune", ApiFixture.ErrorsOf(answer.Body, "automations[0].action.webhook").Single(), StringComparison.Ordinal);
        Assert.Equal(before, await RowsAsync(team));
    }

    [Fact]
    public async Task Should_let_only_team_admins_plan_apply_and_export()
    {
        var team = new Team("acme", fx.MemberKey);
        var file = "version: 1\nqueues:\n  - name: member-queue\n";
        Assert.Equal(HttpStatusCode.Forbidden, (await PlanAsync(team, file)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await ApplyAsync(team, file)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await fx.GetAsync("/v1/entities/acme/config/export", fx.MemberKey)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(fx.Api.Client, team with { Key = fx.OtherEntityKey }, "plan", file)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(fx.Api.Client, team with { Key = "nope" }, "apply", file)).Status);
        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<int>("select count(*)::int from control.launch_queues where name = 'member-queue'"));
    }

    public static TheoryData<string, string, string> Refused => new()
    {
        // file, the field named, a word of the rule
        { "version: 1\nqueues: &q\n  - name: a\nwebhooks: *q\n", "queues", "anchor" },
        { "version: 1\nqueues:\n  - !!str name: a\n", "queues[0]", "tag" },
        { "version: 1\nqueues:\n  - name: a\n    name: b\n", "queues[0].name", "twice" },
        { "version: 1\nqueues:\n  - name: a\n    colour: red\n", "queues[0].colour", "not a field" },
        { "version: 1\nautomations:\n  - project: p\n    name: n\n    event: {type: CREATE_ARTIFACT, collection: c, aliasRegx: x}\n    action: {type: no_op}\n", "automations[0].event.aliasRegx", "not a field" },
        { "version: 1\nentity: globex\n", "entity", "another team" },
        { "version: 2\n", "version", "must be 1" },
        { "queues: []\n", "version", "required" },
        { "version: 1\nqueues:\n  - name: a\n  - name: a\n", "queues[1].name", "unique" },
        { "version: 1\nwebhooks:\n  - name: w\n    url: http://169.254.169.254/latest\n", "webhooks[0].url", "" },
        { "version: 1\nintegrations:\n  - name: i\n    kind: slack\n", "integrations[0].urlSecret", "required" },
        { "version: 1\nintegrations:\n  - name: i\n    kind: slack\n    urlSecret: NOPE\n", "integrations[0].urlSecret", "no secret" },
        { "version: 1\nautomations:\n  - name: n\n    event: {type: RUN_STATE, state: failed}\n    action: {type: no_op}\n", "automations[0].project", "required" },
        { "version: 1\n---\nversion: 1\n", "body", "more than one" },
        { "version: 1\nqueues: [\n", "body", "YAML" },
        { "version: .inf\n", "version", "finite" },
        { "version: 1\nqueues:\n  - name: \"a\\0b\"\n", "queues[0].name", "" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Should_refuse_a_bad_file_naming_the_field(string file, string field, string rule)
    {
        var team = new Team("acme", fx.AdminKey);
        var answer = await PlanAsync(team, file);
        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        var messages = ApiFixture.ErrorsOf(answer.Body, field);
        Assert.True(messages.Length > 0, answer.Text);
        Assert.Contains(rule, string.Join(" ", messages), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_refuse_a_billion_laughs_without_expanding_it()
    {
        var sb = new StringBuilder("version: 1\na0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for (var i = 1; i < 10; i++) sb.Append($"a{i}: &a{i} [*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1}]\n");
        var answer = await PlanAsync(new Team("acme", fx.AdminKey), sb.ToString());
        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Contains("anchor", answer.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_refuse_a_file_larger_than_the_body_limit()
    {
        var big = "version: 1\n# " + new string('x', 2 * 1024 * 1024) + "\n";
        // A client of its own: the server closes the connection after a 413 to a body sent anyway, which the shared
        // client's next request could otherwise pick up from its pool.
        using var client = new HttpClient { BaseAddress = fx.Api.Client.BaseAddress };
        var answer = await SendAsync(client, new Team("acme", fx.AdminKey), "plan", big);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, answer.Status);
    }

    [Fact]
    public async Task Should_take_a_json_file_too()
    {
        var team = await NewTeamAsync(fx);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/entities/{team.Name}/config/apply")
        {
            Content = new StringContent("""{"version": 1, "queues": [{"name": "from-json"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", team.Key);
        using var response = await fx.Api.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("queue from-json -", await RowsAsync(team));
    }

    [Fact]
    public async Task Should_write_and_take_files_the_published_schema_accepts()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(dir!.FullName, "Automations.sln"))) dir = dir.Parent;
        var schema = JsonSchema.FromText(await File.ReadAllTextAsync(Path.Combine(dir.FullName, "shared", "Automations.Contracts", "schemas", "team-config.schema.json")));
        var team = await NewTeamAsync(fx);
        Assert.Equal(HttpStatusCode.OK, (await ApplyAsync(team, FullFile(team.Name))).Status);

        foreach (var yaml in new[] { FullFile(team.Name), await ExportAsync(team) })
        {
            var result = schema.Evaluate(JsonDocument.Parse(YamlText.ToJson(yaml).Json).RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            Assert.True(result.IsValid, string.Join("; ", (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))));
        }
        // A misspelt field is refused by the schema as by the Api.
        var misspelt = FullFile(team.Name).Replace("aliasRegex: staging", "aliasRegx: staging", StringComparison.Ordinal);
        Assert.False(schema.Evaluate(JsonDocument.Parse(YamlText.ToJson(misspelt).Json).RootElement).IsValid);
        Assert.Equal(HttpStatusCode.BadRequest, (await PlanAsync(team, misspelt)).Status);
    }
}
