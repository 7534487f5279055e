using System.Net;
using System.Text.Json;
using Automations.Contracts;
using Automations.Testing;

namespace Automations.Api.Tests;

/// <summary>An entity with a webhook "deploy", a secret GITHUB_TOKEN, a job "retrain" (version 1) and a queue "gpu".</summary>
public class AutomationsFixture : ApiFixture
{
    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/entities/acme/secrets", new { name = "GITHUB_TOKEN", value = "ghp_fixture" })).Status);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/entities/acme/webhooks", new { name = "deploy", url = "https://api.github.com/repos/acme/ml/dispatches", accessToken = "GITHUB_TOKEN" })).Status);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/entities/acme/queues", new { name = "gpu" })).Status);
        var job = await PostAsync("/v1/entities/acme/jobs", new { name = "retrain" });
        Assert.Equal(HttpStatusCode.Created, job.Status);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync($"/v1/entities/acme/jobs/{job.Body.GetProperty("id").GetGuid()}/versions",
            new { command = "python", args = new[] { "train.py" }, defaultConfig = new { epochs = 3 } })).Status);
        // globex has its own webhook, job and queue of the same names: never usable from acme.
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/entities/globex/webhooks", new { name = "globex-hook", url = "https://globex.example/" }, OtherEntityKey)).Status);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/entities/globex/queues", new { name = "globex-queue" }, OtherEntityKey)).Status);
    }
}

public class Managing_automations(AutomationsFixture fx) : IClassFixture<AutomationsFixture>
{
    private const string Automations = "/v1/entities/acme/projects/mnist/automations";

    public const string GitHubPayload =
        """{"event_type": "BUILD_AND_DEPLOY", "client_payload": {"event_author": "${event_author}", "artifact_version": "${artifact_version}", "artifact_version_string": "${artifact_version_string}", "artifact_collection_name": "${artifact_collection_name}", "project_name": "${project_name}", "entity_name": "${entity_name}"}}""";

    private static string Unique(string prefix) => prefix + " " + Guid.NewGuid().ToString("N")[..6];

    private static object WebhookAutomation(string name, string payload = GitHubPayload, string type = "CREATE_ARTIFACT", string? collection = "eval-set") => new
    {
        name,
        description = "dispatch the evaluate workflow",
        @event = new { type, collection },
        action = new { type = "webhook", webhook = "deploy", payload },
    };

    [Fact]
    public async Task Should_create_list_disable_and_delete_a_webhook_automation_publishing_each_change()
    {
        await using var probe = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(AutomationsChanged));
        var name = Unique("evaluate");
        var created = await fx.PostAsync(Automations, WebhookAutomation(name), fx.MemberKey);
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Body.GetProperty("id").GetGuid();
        Assert.Equal(GitHubPayload, created.Body.GetProperty("action").GetProperty("payload").GetString());
        Assert.Equal("bob", created.Body.GetProperty("createdBy").GetString());
        Assert.True(created.Body.GetProperty("enabled").GetBoolean());

        var list = await fx.GetAsync(Automations, fx.MemberKey);
        var row = list.Body.EnumerateArray().Single(a => a.GetProperty("id").GetGuid() == id);
        Assert.Equal((name, "CREATE_ARTIFACT", "webhook", "deploy", "", true),
            (row.GetProperty("name").GetString(), row.GetProperty("triggerType").GetString(), row.GetProperty("actionType").GetString(),
             row.GetProperty("actionName").GetString(), row.GetProperty("queue").GetString(), row.GetProperty("enabled").GetBoolean()));

        var disabled = await fx.PostAsync($"{Automations}/{id}/disable", null, fx.MemberKey);
        Assert.Equal(HttpStatusCode.OK, disabled.Status);
        Assert.False(disabled.Body.GetProperty("enabled").GetBoolean());
        Assert.False((await fx.GetAsync(Automations)).Body.EnumerateArray().Single(a => a.GetProperty("id").GetGuid() == id).GetProperty("enabled").GetBoolean());
        Assert.True((await fx.PostAsync($"{Automations}/{id}/enable", null)).Body.GetProperty("enabled").GetBoolean());

        Assert.Equal(HttpStatusCode.NoContent, (await fx.DeleteAsync($"{Automations}/{id}", fx.MemberKey)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.GetAsync($"{Automations}/{id}")).Status);
        Assert.DoesNotContain((await fx.GetAsync(Automations)).Body.EnumerateArray(), a => a.GetProperty("id").GetGuid() == id);

        // create, disable, enable, delete: four AutomationsChanged for this automation.
        var changes = await probe.WaitForAsync(d => d.Message.GetProperty("automationId").GetGuid() == id, count: 4);
        Assert.All(changes, d => Assert.Equal(("acme", "mnist"), (d.Message.GetProperty("entity").GetString(), d.Message.GetProperty("project").GetString())));
    }

    [Fact]
    public async Task Should_create_a_launch_automation_and_list_its_job_and_queue()
    {
        var name = Unique("retrain on prod");
        var created = await fx.PostAsync(Automations, new
        {
            name,
            @event = new { type = "ADD_ARTIFACT_ALIAS", collection = "model", aliasRegex = "^production$" },
            action = new { type = "launch", job = "retrain", jobVersion = 1, queue = "gpu", targetProject = "mnist-train", overrides = new { epochs = 10 } },
        });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var action = created.Body.GetProperty("action");
        Assert.Equal(10, action.GetProperty("overrides").GetProperty("epochs").GetInt32());
        Assert.Equal(("retrain", 1, "gpu", "mnist-train"),
            (action.GetProperty("job").GetString(), action.GetProperty("jobVersion").GetInt32(), action.GetProperty("queue").GetString(), action.GetProperty("targetProject").GetString()));
        var row = (await fx.GetAsync(Automations)).Body.EnumerateArray().Single(a => a.GetProperty("name").GetString() == name);
        Assert.Equal(("ADD_ARTIFACT_ALIAS", "launch", "retrain", "gpu"),
            (row.GetProperty("triggerType").GetString(), row.GetProperty("actionType").GetString(), row.GetProperty("actionName").GetString(), row.GetProperty("queue").GetString()));
    }

    [Fact]
    public async Task Should_replace_an_automation_and_publish_the_change()
    {
        await using var probe = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(AutomationsChanged));
        var name = Unique("to change");
        var id = (await fx.PostAsync(Automations, WebhookAutomation(name))).Body.GetProperty("id").GetGuid();
        var updated = await fx.PutAsync($"{Automations}/{id}", WebhookAutomation(name + " v2", """{"who":"${event_author}"}""", "LINK_ARTIFACT", "registry"));
        Assert.Equal(HttpStatusCode.OK, updated.Status);
        Assert.Equal(name + " v2", updated.Body.GetProperty("name").GetString());
        Assert.Equal("LINK_ARTIFACT", updated.Body.GetProperty("event").GetProperty("type").GetString());
        Assert.Equal("registry", (await fx.GetAsync($"{Automations}/{id}")).Body.GetProperty("event").GetProperty("collection").GetString());
        await probe.WaitForAsync(d => d.Message.GetProperty("automationId").GetGuid() == id, count: 2);
    }

    [Fact]
    public async Task Should_answer_409_for_a_name_taken_in_the_project_but_not_in_another()
    {
        var name = Unique("same name");
        Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync(Automations, WebhookAutomation(name))).Status);
        var again = await fx.PostAsync(Automations, WebhookAutomation(name));
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.Equal("name", again.Body.GetProperty("field").GetString());
        Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync("/v1/entities/acme/projects/other/automations", WebhookAutomation(name))).Status);

        var second = await fx.PostAsync(Automations, WebhookAutomation(Unique("second")));
        var renamed = await fx.PutAsync($"{Automations}/{second.Body.GetProperty("id").GetGuid()}", WebhookAutomation(name));
        Assert.Equal(HttpStatusCode.Conflict, renamed.Status);
    }

    public static TheoryData<string, string, string> InvalidAutomations()
    {
        static string Body(string @event, string action, string name = "\"ok\"") => $$"""{"name":{{name}},"event":{{@event}},"action":{{action}}}""";
        const string ev = """{"type":"CREATE_ARTIFACT","collection":"c"}""";
        const string hook = """{"type":"webhook","webhook":"deploy","payload":"{}"}""";
        return new()
        {
            { Body(ev, hook, "null"), "name", "required" },
            { Body(ev, hook, "\"bad/name\""), "name", "letters, digits" },
            { Body(ev, hook, $"\"{new string('n', 65)}\""), "name", "at most 64" },
            { """{"name":"ok","action":{"type":"webhook","webhook":"deploy","payload":"{}"}}""", "event", "required" },
            { Body("""{"collection":"c"}""", hook), "event.type", "required" },
            { Body("""{"type":"DELETE_ARTIFACT","collection":"c"}""", hook), "event.type", "not one of" },
            { Body("""{"type":"CREATE_ARTIFACT"}""", hook), "event.collection", "required for CREATE_ARTIFACT" },
            { Body("""{"type":"LINK_ARTIFACT","collection":" "}""", hook), "event.collection", "required for LINK_ARTIFACT" },
            { Body("""{"type":"ADD_ARTIFACT_ALIAS","aliasRegex":"(unclosed"}""", hook), "event.aliasRegex", "not a valid regular expression" },
            { Body("""{"type":"ADD_ARTIFACT_ALIAS","tagRegex":"[z-a]"}""", hook), "event.tagRegex", "not a valid regular expression" },
            { """{"name":"ok","event":{"type":"CREATE_ARTIFACT","collection":"c"}}""", "action", "required" },
            { Body(ev, """{"type":"email"}"""), "action.type", "not webhook, launch, notification or no_op" },
            { Body(ev, """{"type":"webhook","payload":"{}"}"""), "action.webhook", "required" },
            { Body(ev, """{"type":"webhook","webhook":"nope","payload":"{}"}"""), "action.webhook", "no webhook named 'nope'" },
            { Body(ev, """{"type":"webhook","webhook":"globex-hook","payload":"{}"}"""), "action.webhook", "no webhook named 'globex-hook'" },
            { Body(ev, """{"type":"webhook","webhook":"deploy"}"""), "action.payload", "empty" },
            { Body(ev, """{"type":"webhook","webhook":"deploy","payload":"{not json"}"""), "action.payload", "not valid JSON" },
            { Body(ev, """{"type":"webhook","webhook":"deploy","payload":"{\"a\":\"${nope}\"}"}"""), "action.payload", "${nope} is neither a template variable" },
            { Body(ev, """{"type":"webhook","webhook":"deploy","payload":"{\"a\":\"${1bad}\"}"}"""), "action.payload", "not a valid placeholder name" },
            { Body(ev, """{"type":"webhook","webhook":"deploy","payload":"{\"a\":\"${event_author\"}"}"""), "action.payload", "without its closing" },
            { Body(ev, """{"type":"launch","jobVersion":1,"queue":"gpu"}"""), "action.job", "required" },
            { Body(ev, """{"type":"launch","job":"nope","jobVersion":1,"queue":"gpu"}"""), "action.job", "no launch job named 'nope'" },
            { Body(ev, """{"type":"launch","job":"retrain","queue":"gpu"}"""), "action.jobVersion", "required" },
            { Body(ev, """{"type":"launch","job":"retrain","jobVersion":7,"queue":"gpu"}"""), "action.jobVersion", "has no version 7" },
            { Body(ev, """{"type":"launch","job":"retrain","jobVersion":1}"""), "action.queue", "required" },
            { Body(ev, """{"type":"launch","job":"retrain","jobVersion":1,"queue":"globex-queue"}"""), "action.queue", "no launch queue named 'globex-queue'" },
            { Body(ev, """{"type":"launch","job":"retrain","jobVersion":1,"queue":"gpu","overrides":[1]}"""), "action.overrides", "JSON object" },
            { "[1,2", "body", "not valid JSON" },
            { """{"name":"ok","enabled":"yes"}""", "enabled", "wrong type" },
        };
    }

    [Theory]
    [MemberData(nameof(InvalidAutomations))]
    public async Task Should_answer_400_naming_the_field(string body, string field, string message)
    {
        var r = await fx.PostAsync(Automations, body);
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Contains(ApiFixture.ErrorsOf(r.Body, field), e => e.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_accept_a_payload_with_a_team_secret_metadata_and_an_object_payload()
    {
        var r = await fx.PostAsync(Automations, new
        {
            name = Unique("secret payload"),
            @event = new { type = "ADD_ARTIFACT_ALIAS" },
            action = new { type = "webhook", webhook = "deploy", payload = new { token = "${GITHUB_TOKEN}", acc = "${artifact_metadata.accuracy}", lit = "$${not_a_var}" } },
        });
        Assert.Equal(HttpStatusCode.Created, r.Status);
        var payload = JsonDocument.Parse(r.Body.GetProperty("action").GetProperty("payload").GetString()!).RootElement;
        Assert.Equal("${GITHUB_TOKEN}", payload.GetProperty("token").GetString());
        Assert.DoesNotContain("ghp_fixture", r.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_save_a_payload_with_a_bare_secret_name_and_warn_what_is_sent()
    {
        var name = Unique("bare secret");
        var created = await fx.PostAsync(Automations, WebhookAutomation(name, """{"auth":"Bearer $GITHUB_TOKEN","who":"${event_author}"}"""), fx.MemberKey);
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var warning = Assert.Single(created.Body.GetProperty("warnings").EnumerateArray());
        Assert.Equal("action.payload", warning.GetProperty("field").GetString());
        Assert.Equal("`$GITHUB_TOKEN` is sent as the text `$GITHUB_TOKEN`, not the value of the secret GITHUB_TOKEN: write `${GITHUB_TOKEN}` to send the secret",
            warning.GetProperty("message").GetString());
        Assert.DoesNotContain("ghp_fixture", created.Text, StringComparison.Ordinal);
        var id = created.Body.GetProperty("id").GetGuid();
        // Saved as written: the warning changes nothing.
        Assert.Equal("""{"auth":"Bearer $GITHUB_TOKEN","who":"${event_author}"}""",
            (await fx.GetAsync($"{Automations}/{id}")).Body.GetProperty("action").GetProperty("payload").GetString());
        Assert.False((await fx.GetAsync($"{Automations}/{id}")).Body.TryGetProperty("warnings", out _));

        var replaced = await fx.PutAsync($"{Automations}/{id}", WebhookAutomation(name, """{"auth":"Bearer $GITHUB_TOKEN $NOT_A_SECRET"}"""), fx.MemberKey);
        Assert.Equal(HttpStatusCode.OK, replaced.Status);
        Assert.Single(replaced.Body.GetProperty("warnings").EnumerateArray());
        var fixedUp = await fx.PutAsync($"{Automations}/{id}", WebhookAutomation(name, """{"auth":"Bearer ${GITHUB_TOKEN}"}"""), fx.MemberKey);
        Assert.Equal(HttpStatusCode.OK, fixedUp.Status);
        Assert.Empty(fixedUp.Body.GetProperty("warnings").EnumerateArray());
    }

    [Fact]
    public async Task Should_keep_a_filter_regex_as_written_and_take_back_one_the_migration_wrapped()
    {
        object Alias(string name, string aliasRegex) => new
        {
            name, @event = new { type = "ADD_ARTIFACT_ALIAS", aliasRegex }, action = new { type = "webhook", webhook = "deploy", payload = "{}" },
        };
        var prefix = await fx.PostAsync(Automations, Alias(Unique("prefix"), "^prod"));
        Assert.Equal(HttpStatusCode.Created, prefix.Status);
        Assert.Equal("^prod", prefix.Body.GetProperty("event").GetProperty("aliasRegex").GetString());
        Assert.Empty(prefix.Body.GetProperty("warnings").EnumerateArray());

        // A 512-character pattern saved before migration 0002 reads back 6 characters longer and saves again unchanged.
        var wrapped = "^(?:" + new string('a', 512) + ")$";
        var name = Unique("migrated");
        var id = (await fx.PostAsync(Automations, Alias(name, new string('a', 512)))).Body.GetProperty("id").GetGuid();
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            await Dapper.SqlMapper.ExecuteAsync(c, "update control.automations set alias_regex = @wrapped where id = @id", new { wrapped, id });
        var again = await fx.PutAsync($"{Automations}/{id}", Alias(name, wrapped));
        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.Equal(wrapped, again.Body.GetProperty("event").GetProperty("aliasRegex").GetString());
        var tooLong = await fx.PostAsync(Automations, Alias(Unique("too long"), new string('a', 513)));
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.Status);
        Assert.Contains(ApiFixture.ErrorsOf(tooLong.Body, "event.aliasRegex"), e => e.Contains("at most 512", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_publish_a_change_for_each_project_using_a_webhook_that_changes()
    {
        await using var probe = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(AutomationsChanged));
        Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync("/v1/entities/acme/projects/hooked/automations", WebhookAutomation(Unique("uses deploy")))).Status);
        var deploy = (await fx.GetAsync("/v1/entities/acme/webhooks")).Body.EnumerateArray().Single(w => w.GetProperty("name").GetString() == "deploy");
        var saved = await fx.PutAsync($"/v1/entities/acme/webhooks/{deploy.GetProperty("id").GetGuid()}",
            new { name = "deploy", url = deploy.GetProperty("url").GetString(), accessToken = "GITHUB_TOKEN" });
        Assert.Equal(HttpStatusCode.OK, saved.Status);
        await probe.WaitForAsync(d => d.Message.GetProperty("project").GetString() == "hooked" && d.Message.GetProperty("automationId").ValueKind == JsonValueKind.Null);
    }

    public static TheoryData<string, string, string> UnstorableAutomations()
    {
        const string ev = """{"type":"CREATE_ARTIFACT","collection":"eval-set"}""";
        const string hook = """{"type":"webhook","webhook":"deploy","payload":"{}"}""";
        static string Body(string @event, string action, string description = "\"d\"") => $$"""{"name":"unstorable","description":{{description}},"event":{{@event}},"action":{{action}}}""";
        return new()
        {
            { Body(ev, hook, "\"evil\\u0000description\""), "description", "NUL" },
            { Body(ev, hook, "\"lone \\ud800 surrogate\""), "description", "surrogate" },
            { Body(ev, """{"type":"webhook","webhook":"deploy","payload":123}"""), "action.payload", "JSON string" },
            { Body(ev, """{"type":"webhook","webhook":"deploy","payload":true}"""), "action.payload", "JSON string" },
            { Body(ev, """{"type":"webhook","webhook":"deploy","payload":"{\"a\":\"\\u0000\"}"}"""), "action.payload", "NUL" },
            { Body("""{"type":"CREATE_ARTIFACT","collection":"eval set"}""", hook), "event.collection", "letters, digits" },
            { Body(ev, """{"type":"launch","job":"retrain","jobVersion":1,"queue":"gpu","targetProject":"x' or 1=1--"}"""), "action.targetProject", "letters, digits" },
        };
    }

    [Theory]
    [MemberData(nameof(UnstorableAutomations))]
    public async Task Should_refuse_what_cannot_be_stored_or_matched_naming_the_field(string body, string field, string message)
    {
        var r = await fx.PostAsync(Automations, body);
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Contains(ApiFixture.ErrorsOf(r.Body, field), e => e.Contains(message, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("x' or 1=1--")]
    [InlineData("../etc")]
    [InlineData("has space")]
    public async Task Should_refuse_a_project_name_that_Ingestion_would_refuse(string project)
    {
        var path = $"/v1/entities/acme/projects/{Uri.EscapeDataString(project)}/automations";
        var created = await fx.PostAsync(path, WebhookAutomation(Unique("under a bad project")));
        Assert.Equal(HttpStatusCode.BadRequest, created.Status);
        Assert.Contains(ApiFixture.ErrorsOf(created.Body, "project"), e => e.Contains("letters, digits", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.BadRequest, (await fx.GetAsync(path)).Status);
        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await Dapper.SqlMapper.ExecuteScalarAsync<int>(c, "select count(*) from control.automations where project = @project", new { project }));
    }

    [Theory]
    [InlineData("limit=abc", "limit")]
    [InlineData("limit=99999999999", "limit")]
    [InlineData("limit=0", "limit")]
    [InlineData("before=abc", "before")]
    public async Task Should_answer_400_naming_a_bad_paging_parameter_of_the_run_history(string query, string parameter)
    {
        var id = (await fx.PostAsync(Automations, WebhookAutomation(Unique("paged")))).Body.GetProperty("id").GetGuid();
        var r = await fx.GetAsync($"{Automations}/{id}/runs?{query}");
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.NotEmpty(ApiFixture.ErrorsOf(r.Body, parameter));
    }

    [Fact]
    public async Task Should_not_touch_another_projects_automation()
    {
        var id = (await fx.PostAsync(Automations, WebhookAutomation(Unique("mine")))).Body.GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.NotFound, (await fx.GetAsync($"/v1/entities/acme/projects/other/automations/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.DeleteAsync($"/v1/entities/acme/projects/other/automations/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.PostAsync($"/v1/entities/acme/projects/other/automations/{id}/disable", null)).Status);
        Assert.Equal(HttpStatusCode.OK, (await fx.GetAsync($"{Automations}/{id}")).Status);
    }
}
