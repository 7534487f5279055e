using System.Net;
using System.Text.Json;
using Xunit.Abstractions;

namespace Automations.Api.Tests;

/// <summary>
/// The preview of a team automation (/v1/entities/{entity}/automations/…/preview): the project preview's answer, decided
/// by the same code, plus projectMatches; a project the project regex does not find is refused as event.projectRegex.
/// Members may preview (nothing is written); secrets stay masked.
/// </summary>
public class Previewing_a_team_automation(PreviewFixture fx, ITestOutputHelper output) : IClassFixture<PreviewFixture>
{
    private const string Team = "/v1/entities/acme/automations";

    private static string Unique(string prefix) => prefix + " " + Guid.NewGuid().ToString("N")[..6];

    private const string Payload = """{"ref":"main","inputs":{"version":"${artifact_version_string}","project":"${project_name}","token":"${GITHUB_TOKEN}"}}""";

    private static Dictionary<string, object?> ArtifactEvent(string project = "prod-mnist", string type = "CREATE_ARTIFACT", string collection = "eval-set",
        string? alias = null) => new()
    {
        ["eventId"] = "sample-1", ["eventType"] = type, ["entity"] = "acme", ["project"] = project, ["collection"] = collection,
        ["versionId"] = "QXJ0aWZhY3Q6NTE3ODg5ODg3", ["versionIndex"] = 3, ["alias"] = alias, ["author"] = "jane", ["occurredAt"] = "2026-11-27T22:41:00Z",
    };

    private static object Event(string? projectRegex = "^prod-", string type = "CREATE_ARTIFACT", string? collection = "eval-set", string? aliasRegex = null) =>
        new { type, collection, aliasRegex, projectRegex };

    private static object SignedWebhook => new { type = "webhook", webhook = "signed", payload = Payload };

    private static Dictionary<string, object?> Unsaved(object ev, object sample) => new()
    {
        ["name"] = Unique("team preview"), ["event"] = ev, ["action"] = SignedWebhook, ["sample"] = sample,
    };

    private async Task<Guid> CreateAsync(object ev)
    {
        var created = await fx.PostAsync(Team, new { name = Unique("team deploy"), @event = ev, action = SignedWebhook }, fx.AdminKey);
        Assert.True(created.Status == HttpStatusCode.Created, created.Text);
        return created.Body.GetProperty("id").GetGuid();
    }

    private static string? RefusalField((HttpStatusCode Status, JsonElement Body, string Text) answer) =>
        answer.Body.GetProperty("refusal").ValueKind == JsonValueKind.Null ? null : answer.Body.GetProperty("refusal").GetProperty("field").GetString();

    [Fact]
    public async Task Should_match_an_event_of_a_project_the_regex_finds_for_member_and_admin_with_every_secret_masked()
    {
        var id = await CreateAsync(Event());
        foreach (var key in new[] { fx.MemberKey, fx.AdminKey })
        {
            var saved = await fx.PostAsync($"{Team}/{id}/preview", new { sample = ArtifactEvent() }, key);
            var unsaved = await fx.PostAsync($"{Team}/preview", Unsaved(Event(), ArtifactEvent()), key);
            foreach (var answer in new[] { saved, unsaved })
            {
                output.WriteLine($"{answer.Status}\n{answer.Text}");
                Assert.True(answer.Status == HttpStatusCode.OK, answer.Text);
                Assert.True(answer.Body.GetProperty("matches").GetBoolean(), answer.Text);
                Assert.True(answer.Body.GetProperty("projectMatches").GetBoolean(), answer.Text);
                Assert.Null(RefusalField(answer));

                var action = answer.Body.GetProperty("action");
                Assert.Equal(("webhook", "signed"), (action.GetProperty("type").GetString(), action.GetProperty("webhook").GetString()));
                var request = action.GetProperty("request");
                var inputs = JsonDocument.Parse(request.GetProperty("body").GetString()!).RootElement.GetProperty("inputs");
                // The sample's project fills the template; the secret stays the reference the author wrote.
                Assert.Equal(("acme/prod-mnist/eval-set:v3", "prod-mnist", "${GITHUB_TOKEN}"),
                    (inputs.GetProperty("version").GetString(), inputs.GetProperty("project").GetString(), inputs.GetProperty("token").GetString()));
                var headers = request.GetProperty("headers");
                Assert.Equal("Bearer ********", headers.GetProperty("Authorization").GetString());
                Assert.Equal("********", headers.GetProperty("X-Wandb-Signature").GetString());
                Assert.Equal("v1,********", headers.GetProperty("webhook-signature").GetString());
                foreach (var secret in new[] { "ghp_fixture", PreviewFixture.SigningSecret, "c2lnbmluZy1zZWNyZXQ" })
                    Assert.DoesNotContain(secret, answer.Text, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task Should_refuse_a_project_the_regex_does_not_find_naming_event_projectRegex()
    {
        var id = await CreateAsync(Event());
        var sample = new { sample = ArtifactEvent(project: "mnist") };
        var saved = await fx.PostAsync($"{Team}/{id}/preview", sample, fx.MemberKey);
        output.WriteLine($"POST {Team}/{id}/preview\n{JsonSerializer.Serialize(sample)}\n{saved.Status}\n{saved.Text}");
        var unsaved = await fx.PostAsync($"{Team}/preview", Unsaved(Event(), ArtifactEvent(project: "mnist")), fx.MemberKey);
        foreach (var answer in new[] { saved, unsaved })
        {
            Assert.True(answer.Status == HttpStatusCode.OK, answer.Text);
            Assert.False(answer.Body.GetProperty("matches").GetBoolean());
            Assert.False(answer.Body.GetProperty("projectMatches").GetBoolean());
            Assert.Equal("event.projectRegex", RefusalField(answer));
            Assert.Contains("\"^prod-\" is not found in the event's project \"mnist\"", answer.Body.GetProperty("refusal").GetProperty("reason").GetString(),
                StringComparison.Ordinal);
            // Rendered all the same, so the template can be checked before an event matches.
            Assert.Contains("acme/mnist/eval-set:v3", answer.Body.GetProperty("action").GetProperty("request").GetProperty("body").GetString(), StringComparison.Ordinal);
        }

        // No project regex: every project of the team.
        var everyProject = await CreateAsync(Event(projectRegex: null));
        var any = await fx.PostAsync($"{Team}/{everyProject}/preview", sample, fx.MemberKey);
        Assert.True(any.Body.GetProperty("matches").GetBoolean(), any.Text);
        Assert.True(any.Body.GetProperty("projectMatches").GetBoolean(), any.Text);
    }

    [Fact]
    public async Task Should_name_the_collection_or_alias_filter_that_refused_while_the_project_matches()
    {
        var collection = await fx.PostAsync($"{Team}/{await CreateAsync(Event())}/preview", new { sample = ArtifactEvent(collection: "train-set") }, fx.MemberKey);
        Assert.True(collection.Status == HttpStatusCode.OK, collection.Text);
        Assert.False(collection.Body.GetProperty("matches").GetBoolean());
        Assert.True(collection.Body.GetProperty("projectMatches").GetBoolean());
        Assert.Equal("event.collection", RefusalField(collection));

        var aliasEvent = Event(type: "ADD_ARTIFACT_ALIAS", collection: null, aliasRegex: "^production$");
        var alias = await fx.PostAsync($"{Team}/preview", Unsaved(aliasEvent, ArtifactEvent(type: "ADD_ARTIFACT_ALIAS", alias: "staging")), fx.MemberKey);
        Assert.True(alias.Status == HttpStatusCode.OK, alias.Text);
        Assert.False(alias.Body.GetProperty("matches").GetBoolean());
        Assert.True(alias.Body.GetProperty("projectMatches").GetBoolean());
        Assert.Equal("event.aliasRegex", RefusalField(alias));

        // The trigger's filter is named first, as Rules checks it; projectMatches still says the project is not watched.
        var both = await fx.PostAsync($"{Team}/preview", Unsaved(aliasEvent, ArtifactEvent(project: "mnist", type: "ADD_ARTIFACT_ALIAS", alias: "staging")), fx.MemberKey);
        Assert.Equal("event.aliasRegex", RefusalField(both));
        Assert.False(both.Body.GetProperty("projectMatches").GetBoolean());
    }

    [Fact]
    public async Task Should_refuse_a_disabled_one_and_leave_projectMatches_out_of_a_project_preview()
    {
        var id = await CreateAsync(Event());
        Assert.Equal(HttpStatusCode.OK, (await fx.PostAsync($"{Team}/{id}/disable", null, fx.AdminKey)).Status);
        var disabled = await fx.PostAsync($"{Team}/{id}/preview", new { sample = ArtifactEvent() }, fx.MemberKey);
        Assert.Equal("enabled", RefusalField(disabled));
        Assert.True(disabled.Body.GetProperty("projectMatches").GetBoolean());

        var project = await fx.PostAsync("/v1/entities/acme/projects/mnist/automations/preview",
            Unsaved(Event(projectRegex: null), ArtifactEvent(project: "mnist")), fx.MemberKey);
        Assert.True(project.Status == HttpStatusCode.OK, project.Text);
        Assert.False(project.Body.TryGetProperty("projectMatches", out _), project.Text);
    }

    [Fact]
    public async Task Should_answer_404_for_an_unknown_id_another_teams_or_a_project_automations()
    {
        var sample = new { sample = ArtifactEvent() };
        Assert.Equal(HttpStatusCode.NotFound, (await fx.PostAsync($"{Team}/{Guid.NewGuid()}/preview", sample, fx.MemberKey)).Status);

        var theirs = await fx.PostAsync("/v1/entities/globex/automations",
            new { name = Unique("theirs"), @event = new { type = "CREATE_ARTIFACT", collection = "eval-set" }, action = new { type = "no_op" } }, fx.OtherEntityKey);
        Assert.True(theirs.Status == HttpStatusCode.Created, theirs.Text);
        var id = theirs.Body.GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.NotFound, (await fx.PostAsync($"{Team}/{id}/preview", sample, fx.AdminKey)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.PostAsync($"/v1/entities/globex/automations/{id}/preview", sample, fx.MemberKey)).Status);
        Assert.Equal(HttpStatusCode.OK, (await fx.PostAsync($"/v1/entities/globex/automations/{id}/preview", sample, fx.OtherEntityKey)).Status);

        // A project automation is previewed under its project, not as a team one.
        var own = await fx.PostAsync("/v1/entities/acme/projects/mnist/automations",
            new { name = Unique("project"), @event = new { type = "CREATE_ARTIFACT", collection = "eval-set" }, action = new { type = "no_op" } }, fx.MemberKey);
        Assert.True(own.Status == HttpStatusCode.Created, own.Text);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.PostAsync($"{Team}/{own.Body.GetProperty("id").GetGuid()}/preview", sample, fx.MemberKey)).Status);
    }

    private const string Sample = """{"eventId":"s","eventType":"CREATE_ARTIFACT","entity":"acme","project":"prod-mnist","collection":"c","occurredAt":"2026-11-27T22:41:00Z"}""";

    public static TheoryData<string, string, string> BadBodies => new()
    {
        { "no sample", """{"name":"p","event":{"type":"CREATE_ARTIFACT","collection":"c","projectRegex":"^prod-"},"action":{"type":"no_op"}}""", "sample" },
        { "a sample that is not an object", """{"name":"p","event":{"type":"CREATE_ARTIFACT","collection":"c"},"action":{"type":"no_op"},"sample":[1]}""", "sample" },
        { "a sample without a project", """{"name":"p","event":{"type":"CREATE_ARTIFACT","collection":"c"},"action":{"type":"no_op"},"sample":{"eventId":"s","eventType":"CREATE_ARTIFACT","entity":"acme","collection":"c","occurredAt":"2026-11-27T22:41:00Z"}}""", "sample.project" },
        { "a project regex that does not compile (as on create)", $$"""{"name":"p","event":{"type":"CREATE_ARTIFACT","projectRegex":"(prod"},"action":{"type":"no_op"},"sample":{{Sample}}}""", "event.projectRegex" },
        { "a project regex that is not a string", $$"""{"name":"p","event":{"type":"CREATE_ARTIFACT","projectRegex":5},"action":{"type":"no_op"},"sample":{{Sample}}}""", "event.projectRegex" },
        { "an unknown webhook", $$"""{"name":"p","event":{"type":"CREATE_ARTIFACT","collection":"c"},"action":{"type":"webhook","webhook":"nope","payload":"{}"},"sample":{{Sample}}}""", "action.webhook" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Should_refuse_a_bad_body_with_a_400_naming_the_field(string because, string body, string field)
    {
        var answer = await fx.PostAsync($"{Team}/preview", body, fx.MemberKey);
        Assert.True(answer.Status == HttpStatusCode.BadRequest, $"{because}: {answer.Status} {answer.Text}");
        Assert.True(ApiFixture.ErrorsOf(answer.Body, field).Length > 0, $"{because}: {answer.Text}");
    }

    [Fact]
    public async Task Should_refuse_a_saved_ones_bad_sample_with_a_400_naming_the_field()
    {
        var id = await CreateAsync(Event());
        var answer = await fx.PostAsync($"{Team}/{id}/preview", """{"sample":{"eventId":"s","eventType":"CREATE_ARTIFACT","entity":"acme","project":"prod-mnist","occurredAt":"2026-11-27T22:41:00Z"}}""", fx.MemberKey);
        Assert.True(answer.Status == HttpStatusCode.BadRequest, answer.Text);
        Assert.True(ApiFixture.ErrorsOf(answer.Body, "sample.collection").Length > 0, answer.Text);
    }
}
