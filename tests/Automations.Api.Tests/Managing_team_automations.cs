using System.Net;
using System.Text.Json;
using Automations.Contracts;
using Automations.Testing;
using Dapper;

namespace Automations.Api.Tests;

/// <summary>
/// Team automations: admins create, change and delete them under /v1/entities/{entity}/automations, members read them,
/// another team never sees them, and a project's list shows those whose project regex finds it, read-only there.
/// </summary>
public class Managing_team_automations(AutomationsFixture fx) : IClassFixture<AutomationsFixture>
{
    private const string Team = "/v1/entities/acme/automations";

    private static string Unique(string prefix) => prefix + " " + Guid.NewGuid().ToString("N")[..6];

    private static object TeamAutomation(string name, string? projectRegex = "^prod-", string type = "CREATE_ARTIFACT", string? collection = "eval-set") => new
    {
        name,
        @event = new { type, collection, projectRegex },
        action = new { type = "webhook", webhook = "deploy", payload = Managing_automations.GitHubPayload },
    };

    private async Task<Guid> CreateAsync(object body)
    {
        var created = await fx.PostAsync(Team, body);
        Assert.True(created.Status == HttpStatusCode.Created, created.Text);
        return created.Body.GetProperty("id").GetGuid();
    }

    private static void AssertProblem((HttpStatusCode Status, JsonElement Body, string Text) r, HttpStatusCode status)
    {
        Assert.Equal(status, r.Status);
        Assert.Equal((int)status, r.Body.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Should_let_an_admin_create_change_disable_and_delete_one_publishing_a_team_change_each_time()
    {
        await using var probe = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(AutomationsChanged));
        var name = Unique("team deploy");
        var created = await fx.PostAsync(Team, TeamAutomation(name));
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Body.GetProperty("id").GetGuid();
        Assert.Equal("team", created.Body.GetProperty("scope").GetString());
        Assert.Equal(JsonValueKind.Null, created.Body.GetProperty("project").ValueKind);
        Assert.Equal("^prod-", created.Body.GetProperty("event").GetProperty("projectRegex").GetString());

        // Members read it.
        var row = (await fx.GetAsync(Team, fx.MemberKey)).Body.EnumerateArray().Single(a => a.GetProperty("id").GetGuid() == id);
        Assert.Equal(("team", "^prod-", "deploy", true), (row.GetProperty("scope").GetString(), row.GetProperty("projectRegex").GetString(),
            row.GetProperty("actionName").GetString(), row.GetProperty("enabled").GetBoolean()));
        Assert.Equal(HttpStatusCode.OK, (await fx.GetAsync($"{Team}/{id}", fx.MemberKey)).Status);

        var updated = await fx.PutAsync($"{Team}/{id}", TeamAutomation(name + " v2", projectRegex: null, type: "LINK_ARTIFACT", collection: "registry"));
        Assert.Equal(HttpStatusCode.OK, updated.Status);
        Assert.Equal(JsonValueKind.Null, updated.Body.GetProperty("event").GetProperty("projectRegex").ValueKind);
        Assert.False((await fx.PostAsync($"{Team}/{id}/disable", null)).Body.GetProperty("enabled").GetBoolean());
        Assert.True((await fx.PostAsync($"{Team}/{id}/enable", null)).Body.GetProperty("enabled").GetBoolean());
        Assert.Equal(HttpStatusCode.NoContent, (await fx.DeleteAsync($"{Team}/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.GetAsync($"{Team}/{id}")).Status);

        // create, update, disable, enable, delete: five changes, each for every project of the entity.
        var changes = await probe.WaitForAsync(
            d => d.Message.GetProperty("automationId").ValueKind == JsonValueKind.String && d.Message.GetProperty("automationId").GetGuid() == id, count: 5);
        Assert.All(changes, d => Assert.Equal(("acme", "", true),
            (d.Message.GetProperty("entity").GetString(), d.Message.GetProperty("project").GetString(), d.Message.GetProperty("team").GetBoolean())));
    }

    [Fact]
    public async Task Should_answer_403_problem_json_to_a_member_for_every_change()
    {
        var id = await CreateAsync(TeamAutomation(Unique("admins only")));
        AssertProblem(await fx.PostAsync(Team, TeamAutomation(Unique("by a member")), fx.MemberKey), HttpStatusCode.Forbidden);
        // Forbidden before validation: a member learns nothing from the body's errors.
        AssertProblem(await fx.PostAsync(Team, """{"name":"x","event":{"projectRegex":"("}}""", fx.MemberKey), HttpStatusCode.Forbidden);
        AssertProblem(await fx.PutAsync($"{Team}/{id}", TeamAutomation(Unique("renamed")), fx.MemberKey), HttpStatusCode.Forbidden);
        AssertProblem(await fx.PostAsync($"{Team}/{id}/disable", null, fx.MemberKey), HttpStatusCode.Forbidden);
        AssertProblem(await fx.PostAsync($"{Team}/{id}/enable", null, fx.MemberKey), HttpStatusCode.Forbidden);
        AssertProblem(await fx.DeleteAsync($"{Team}/{id}", fx.MemberKey), HttpStatusCode.Forbidden);

        // Nor through a project's routes, where it is listed: there it is read-only for everyone.
        foreach (var key in new[] { fx.MemberKey, fx.AdminKey })
        {
            Assert.Equal(HttpStatusCode.NotFound, (await fx.PutAsync($"/v1/entities/acme/projects/prod-a/automations/{id}", TeamAutomation(Unique("via project"), projectRegex: null), key)).Status);
            Assert.Equal(HttpStatusCode.NotFound, (await fx.PostAsync($"/v1/entities/acme/projects/prod-a/automations/{id}/disable", null, key)).Status);
            Assert.Equal(HttpStatusCode.NotFound, (await fx.DeleteAsync($"/v1/entities/acme/projects/prod-a/automations/{id}", key)).Status);
        }
        var kept = await fx.GetAsync($"{Team}/{id}");
        Assert.True(kept.Body.GetProperty("enabled").GetBoolean());
        Assert.StartsWith("admins only", kept.Body.GetProperty("name").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_answer_404_to_another_team()
    {
        var id = await CreateAsync(TeamAutomation(Unique("acme only")));
        AssertProblem(await fx.GetAsync(Team, fx.OtherEntityKey), HttpStatusCode.NotFound);
        AssertProblem(await fx.GetAsync($"{Team}/{id}", fx.OtherEntityKey), HttpStatusCode.NotFound);
        AssertProblem(await fx.DeleteAsync($"{Team}/{id}", fx.OtherEntityKey), HttpStatusCode.NotFound);
        AssertProblem(await fx.GetAsync($"{Team}/{id}/runs", fx.OtherEntityKey), HttpStatusCode.NotFound);
        // globex's own routes do not reach acme's rows either.
        Assert.Equal(HttpStatusCode.NotFound, (await fx.GetAsync($"/v1/entities/globex/automations/{id}", fx.OtherEntityKey)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.DeleteAsync($"/v1/entities/globex/automations/{id}", fx.OtherEntityKey)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.GetAsync($"/v1/entities/globex/automations/{id}/runs", fx.OtherEntityKey)).Status);
        Assert.DoesNotContain((await fx.GetAsync("/v1/entities/globex/automations", fx.OtherEntityKey)).Body.EnumerateArray(), a => a.GetProperty("id").GetGuid() == id);
        Assert.DoesNotContain((await fx.GetAsync("/v1/entities/globex/projects/prod-a/automations", fx.OtherEntityKey)).Body.EnumerateArray(),
            a => a.GetProperty("id").GetGuid() == id);
        Assert.Equal(HttpStatusCode.OK, (await fx.GetAsync($"{Team}/{id}")).Status);
    }

    [Fact]
    public async Task Should_list_it_in_the_projects_its_regex_finds_marked_as_team()
    {
        var prod = await CreateAsync(TeamAutomation(Unique("prod only"), projectRegex: "^prod-"));
        var all = await CreateAsync(TeamAutomation(Unique("every project"), projectRegex: null));
        var own = (await fx.PostAsync("/v1/entities/acme/projects/prod-a/automations", new
        {
            name = Unique("own"), @event = new { type = "CREATE_ARTIFACT", collection = "eval-set" }, action = new { type = "no_op" },
        }, fx.MemberKey)).Body.GetProperty("id").GetGuid();

        async Task<Dictionary<Guid, string>> ListedAsync(string project) =>
            (await fx.GetAsync($"/v1/entities/acme/projects/{project}/automations", fx.MemberKey)).Body.EnumerateArray()
            .ToDictionary(a => a.GetProperty("id").GetGuid(), a => a.GetProperty("scope").GetString()!);

        var inProd = await ListedAsync("prod-a");
        Assert.Equal(("project", "team", "team"), (inProd[own], inProd[prod], inProd[all]));
        // A project no automation names yet (created later) lists the team automations that will fire there.
        var inNew = await ListedAsync("prod-" + Guid.NewGuid().ToString("N")[..8]);
        Assert.Equal(("team", "team"), (inNew[prod], inNew[all]));
        Assert.DoesNotContain(own, inNew.Keys);
        var inDev = await ListedAsync("dev-prod-a");
        Assert.Equal("team", inDev[all]);
        Assert.DoesNotContain(prod, inDev.Keys);
        // Its runs are read through the project's route too (none yet), and the team route.
        Assert.Equal(0, (await fx.GetAsync($"/v1/entities/acme/projects/prod-a/automations/{prod}/runs", fx.MemberKey)).Body.GetProperty("runs").GetArrayLength());
        Assert.Equal(0, (await fx.GetAsync($"{Team}/{prod}/runs", fx.MemberKey)).Body.GetProperty("runs").GetArrayLength());
        // The team list holds team automations only.
        Assert.DoesNotContain((await fx.GetAsync(Team)).Body.EnumerateArray(), a => a.GetProperty("id").GetGuid() == own);
    }

    [Fact]
    public async Task Should_take_names_apart_from_project_automations_and_answer_409_for_a_team_name_taken()
    {
        var name = Unique("shared name");
        Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync("/v1/entities/acme/projects/prod-a/automations", new
        {
            name, @event = new { type = "CREATE_ARTIFACT", collection = "eval-set" }, action = new { type = "no_op" },
        })).Status);
        await CreateAsync(TeamAutomation(name));
        var again = await fx.PostAsync(Team, TeamAutomation(name));
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.Equal("name", again.Body.GetProperty("field").GetString());
        var other = await CreateAsync(TeamAutomation(Unique("other")));
        Assert.Equal(HttpStatusCode.Conflict, (await fx.PutAsync($"{Team}/{other}", TeamAutomation(name))).Status);
    }

    public static TheoryData<string, string, string, string> InvalidTeamAutomations()
    {
        const string hook = """{"type":"webhook","webhook":"deploy","payload":"{}"}""";
        static string Body(string @event, string action = hook) => $$"""{"name":"ok","event":{{@event}},"action":{{action}}}""";
        var tooLong = new string('p', 513);
        return new()
        {
            { Team, Body("""{"type":"CREATE_ARTIFACT","collection":"c","projectRegex":"(unclosed"}"""), "event.projectRegex", "not a valid regular expression" },
            { Team, Body($$"""{"type":"CREATE_ARTIFACT","collection":"c","projectRegex":"{{tooLong}}"}"""), "event.projectRegex", "at most 512" },
            { Team, Body("""{"type":"RUN_STATE","state":"finished","projectRegex":"[z-a]"}"""), "event.projectRegex", "not a valid regular expression" },
            // The project automation's validator, reused whole.
            { Team, Body("""{"type":"CREATE_ARTIFACT"}"""), "event.collection", "required for CREATE_ARTIFACT" },
            { Team, Body("""{"type":"RUN_STATE","state":"paused"}"""), "event.state", "not one of" },
            { Team, Body("""{"type":"CREATE_ARTIFACT","collection":"c"}""", """{"type":"webhook","webhook":"globex-hook","payload":"{}"}"""), "action.webhook", "no webhook named 'globex-hook'" },
            { Team, Body("""{"type":"CREATE_ARTIFACT","collection":"c"}""", """{"type":"email"}"""), "action.type", "not webhook, launch, notification or no_op" },
            // A project automation has its project: a project regex there is a mistake, named.
            { "/v1/entities/acme/projects/prod-a/automations", Body("""{"type":"CREATE_ARTIFACT","collection":"c","projectRegex":"^prod"}"""), "event.projectRegex", "only for team automations" },
        };
    }

    [Theory]
    [MemberData(nameof(InvalidTeamAutomations))]
    public async Task Should_answer_400_naming_the_field(string path, string body, string field, string message)
    {
        var r = await fx.PostAsync(path, body);
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Contains(ApiFixture.ErrorsOf(r.Body, field), e => e.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_publish_a_team_change_when_a_webhook_a_team_automation_uses_changes()
    {
        await using var probe = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(AutomationsChanged));
        await CreateAsync(TeamAutomation(Unique("uses deploy")));
        var deploy = (await fx.GetAsync("/v1/entities/acme/webhooks")).Body.EnumerateArray().Single(w => w.GetProperty("name").GetString() == "deploy");
        var saved = await fx.PutAsync($"/v1/entities/acme/webhooks/{deploy.GetProperty("id").GetGuid()}",
            new { name = "deploy", url = deploy.GetProperty("url").GetString(), accessToken = "GITHUB_TOKEN" });
        Assert.Equal(HttpStatusCode.OK, saved.Status);
        await probe.WaitForAsync(d => d.Message.GetProperty("team").GetBoolean() && d.Message.GetProperty("automationId").ValueKind == JsonValueKind.Null);
        // And deleting it is refused while the team automation uses it, naming that automation.
        var refused = await fx.DeleteAsync($"/v1/entities/acme/webhooks/{deploy.GetProperty("id").GetGuid()}");
        Assert.Equal(HttpStatusCode.Conflict, refused.Status);
        Assert.Contains("(team)/uses deploy", refused.Body.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_show_the_projects_of_a_team_automations_runs()
    {
        var id = await CreateAsync(TeamAutomation(Unique("with runs"), projectRegex: null));
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            foreach (var project in new[] { "prod-a", "prod-b" })
                await c.ExecuteAsync(
                    """
                    insert into rules.runs (id, automation_id, automation_name, entity, project, event_id, producer_event_id, event_type, event,
                                            action_type, command_id, status, received_at)
                    values (gen_random_uuid(), @id, 'with runs', 'acme', @project, gen_random_uuid(), 'p', 'CREATE_ARTIFACT', '{}', 'no_op', gen_random_uuid(), 'Finished', now())
                    """, new { id, project });
        var all = (await fx.GetAsync($"{Team}/{id}/runs", fx.MemberKey)).Body.GetProperty("runs");
        Assert.Equal(["prod-a", "prod-b"], all.EnumerateArray().Select(r => r.GetProperty("project").GetString()).Order());
        var one = (await fx.GetAsync($"/v1/entities/acme/projects/prod-b/automations/{id}/runs", fx.MemberKey)).Body.GetProperty("runs");
        Assert.Equal(["prod-b"], one.EnumerateArray().Select(r => r.GetProperty("project").GetString()));
    }
}
