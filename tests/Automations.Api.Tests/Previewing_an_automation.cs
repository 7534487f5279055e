using System.Net;
using System.Text.Json;
using Xunit.Abstractions;

namespace Automations.Api.Tests;

/// <summary>
/// AutomationsFixture, plus a signing secret and a webhook "signed" that uses it (and GITHUB_TOKEN as its access token),
/// and a Slack integration "alerts" whose URL is a secret.
/// </summary>
public class PreviewFixture : AutomationsFixture
{
    public const string SigningSecret = "whsec_c2lnbmluZy1zZWNyZXQtb2YtdGhlLXByZXZpZXc=";
    public const string SlackSecretPart = "abcdefghijklmnopqrstWXYZ";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/entities/acme/secrets", new { name = "SIGNING", value = SigningSecret })).Status);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/entities/acme/webhooks",
            new { name = "signed", url = "https://hooks.example/dispatch", secret = "SIGNING", accessToken = "GITHUB_TOKEN" })).Status);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/entities/acme/integrations",
            new { name = "alerts", kind = "slack", url = "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/" + SlackSecretPart })).Status);
    }
}

public class Previewing_an_automation(PreviewFixture fx, ITestOutputHelper output) : IClassFixture<PreviewFixture>
{
    private const string Automations = "/v1/entities/acme/projects/mnist/automations";

    private static string Unique(string prefix) => prefix + " " + Guid.NewGuid().ToString("N")[..6];

    private static Dictionary<string, object?> AliasEvent(string alias = "production", string project = "mnist", object? metadata = null) => new()
    {
        ["eventId"] = "sample-1", ["eventType"] = "ADD_ARTIFACT_ALIAS", ["entity"] = "acme", ["project"] = project, ["collection"] = "eval-set",
        ["versionId"] = "QXJ0aWZhY3Q6NTE3ODg5ODg3", ["versionIndex"] = 3, ["alias"] = alias, ["author"] = "jane", ["occurredAt"] = "2026-11-27T22:41:00Z",
        ["metadata"] = metadata ?? new { accuracy = 0.93 },
    };

    private static object MetricEvent(double value) => new
    {
        eventId = "m-1", eventType = "RUN_METRIC", entity = "acme", project = "mnist", runId = "run1", runName = "sweep-3", user = "jane",
        step = 40, metrics = new { val_loss = value }, occurredAt = "2026-11-27T22:41:00Z",
    };

    private const string Payload = """{"ref":"main","inputs":{"version":"${artifact_version_string}","token":"${GITHUB_TOKEN}","price":"$5"}}""";

    private static Dictionary<string, object?> Unsaved(object ev, object action, object sample, double[]? metricHistory = null) => new()
    {
        ["name"] = Unique("preview"), ["event"] = ev, ["action"] = action, ["sample"] = sample, ["metricHistory"] = metricHistory,
    };

    private static object SignedWebhook(string payload = Payload) => new { type = "webhook", webhook = "signed", payload };

    [Fact]
    public async Task Should_render_an_unsaved_webhook_automation_with_every_secret_masked_for_member_and_admin()
    {
        foreach (var key in new[] { fx.MemberKey, fx.AdminKey })
        {
            var sent = Unsaved(new { type = "ADD_ARTIFACT_ALIAS", aliasRegex = "^prod" }, SignedWebhook(), AliasEvent());
            var answer = await fx.PostAsync($"{Automations}/preview", sent, key);
            output.WriteLine($"POST {Automations}/preview\n{JsonSerializer.Serialize(sent)}\n{answer.Status}\n{answer.Text}");
            Assert.True(answer.Status == HttpStatusCode.OK, answer.Text);
            Assert.True(answer.Body.GetProperty("matches").GetBoolean(), answer.Text);
            Assert.Equal(JsonValueKind.Null, answer.Body.GetProperty("refusal").ValueKind);

            var action = answer.Body.GetProperty("action");
            Assert.Equal(("webhook", "signed", "generic"), (action.GetProperty("type").GetString(), action.GetProperty("webhook").GetString(), action.GetProperty("kind").GetString()));
            Assert.Equal(new[] { "GITHUB_TOKEN" }, action.GetProperty("secretReferences").EnumerateArray().Select(s => s.GetString()!).ToArray());
            var request = action.GetProperty("request");
            Assert.Equal(("POST", "https://hooks.example/dispatch"), (request.GetProperty("method").GetString(), request.GetProperty("url").GetString()));
            var body = JsonDocument.Parse(request.GetProperty("body").GetString()!).RootElement.GetProperty("inputs");
            // Variables filled from the sample, the secret left as the reference the author wrote, a literal `$` as written.
            Assert.Equal(("acme/mnist/eval-set:production", "${GITHUB_TOKEN}", "$5"),
                (body.GetProperty("version").GetString(), body.GetProperty("token").GetString(), body.GetProperty("price").GetString()));
            var headers = request.GetProperty("headers");
            Assert.Equal("application/json", headers.GetProperty("Content-Type").GetString());
            Assert.Equal("Bearer ********", headers.GetProperty("Authorization").GetString());
            Assert.Equal("********", headers.GetProperty("X-Wandb-Signature").GetString());
            Assert.Equal("v1,********", headers.GetProperty("webhook-signature").GetString());
            Assert.True(Guid.TryParse(headers.GetProperty("webhook-id").GetString(), out _));
            Assert.True(long.TryParse(headers.GetProperty("webhook-timestamp").GetString(), out _));
            foreach (var secret in new[] { "ghp_fixture", PreviewFixture.SigningSecret, "c2lnbmluZy1zZWNyZXQ" })
                Assert.DoesNotContain(secret, answer.Text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Should_name_the_filter_that_refused_a_saved_automation()
    {
        var created = await fx.PostAsync(Automations, new
        {
            name = Unique("deploy prod"), @event = new { type = "ADD_ARTIFACT_ALIAS", aliasRegex = "^prod$" }, action = SignedWebhook(),
        }, fx.MemberKey);
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var preview = $"{Automations}/{created.Body.GetProperty("id").GetGuid()}/preview";

        var refused = await fx.PostAsync(preview, new { sample = AliasEvent("staging") }, fx.MemberKey);
        // The pair docs/api.md shows.
        output.WriteLine($"POST {preview}\n{JsonSerializer.Serialize(new { sample = AliasEvent("staging") })}\n{refused.Status}\n{refused.Text}");
        Assert.Equal(HttpStatusCode.OK, refused.Status);
        Assert.False(refused.Body.GetProperty("matches").GetBoolean());
        Assert.Equal("event.aliasRegex", refused.Body.GetProperty("refusal").GetProperty("field").GetString());
        Assert.Contains("\"^prod$\" is not found in the event's alias \"staging\"", refused.Body.GetProperty("refusal").GetProperty("reason").GetString(), StringComparison.Ordinal);
        // Rendered all the same, so the template can be checked before an event matches.
        Assert.Contains("eval-set:staging", refused.Body.GetProperty("action").GetProperty("request").GetProperty("body").GetString(), StringComparison.Ordinal);

        var otherType = await fx.PostAsync(preview, new { sample = MetricEvent(0.1) });
        Assert.Equal("event.type", otherType.Body.GetProperty("refusal").GetProperty("field").GetString());
        var otherProject = await fx.PostAsync(preview, new { sample = AliasEvent("prod", project: "cifar") });
        Assert.Equal("sample.project", otherProject.Body.GetProperty("refusal").GetProperty("field").GetString());

        Assert.True((await fx.PostAsync(preview, new { sample = AliasEvent("prod") })).Body.GetProperty("matches").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, (await fx.PostAsync($"{preview[..^"/preview".Length]}/disable", null)).Status);
        var disabled = await fx.PostAsync(preview, new { sample = AliasEvent("prod") });
        Assert.Equal("enabled", disabled.Body.GetProperty("refusal").GetProperty("field").GetString());
    }

    [Fact]
    public async Task Should_show_a_notification_integrations_url_only_masked()
    {
        var answer = await fx.PostAsync($"{Automations}/preview", Unsaved(new { type = "CREATE_ARTIFACT", collection = "eval-set" },
            new { type = "notification", integration = "alerts", title = "New ${artifact_collection_name}", text = "${artifact_version_string} by ${event_author}" },
            AliasEvent()), fx.MemberKey);
        Assert.True(answer.Status == HttpStatusCode.OK, answer.Text);
        Assert.Equal("event.type", answer.Body.GetProperty("refusal").GetProperty("field").GetString());
        var request = answer.Body.GetProperty("action").GetProperty("request");
        Assert.Equal("https://hooks.slack.com/********WXYZ", request.GetProperty("url").GetString());
        Assert.Contains("acme/mnist/eval-set:production by jane", request.GetProperty("body").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("abcdefghijklmnopqrst", answer.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_evaluate_a_metric_threshold_on_the_sample_or_on_its_history()
    {
        var ev = new { type = "RUN_METRIC_THRESHOLD", metric = new { name = "val_loss", agg = "AVERAGE", window = 3, cmp = "<", threshold = 0.3 } };
        var alone = await fx.PostAsync($"{Automations}/preview", Unsaved(ev, new { type = "no_op" }, MetricEvent(0.1)), fx.MemberKey);
        Assert.True(alone.Status == HttpStatusCode.OK, alone.Text);
        Assert.False(alone.Body.GetProperty("matches").GetBoolean());
        Assert.Equal("event.metric.window", alone.Body.GetProperty("refusal").GetProperty("field").GetString());
        Assert.Contains(alone.Body.GetProperty("notes").EnumerateArray(), n => n.GetString()!.Contains("evaluated on this one value", StringComparison.Ordinal));

        var withHistory = await fx.PostAsync($"{Automations}/preview", Unsaved(ev, new { type = "no_op" }, MetricEvent(0.1), [0.2, 0.25]), fx.MemberKey);
        Assert.True(withHistory.Body.GetProperty("matches").GetBoolean(), withHistory.Text);
        Assert.Equal("no_op", withHistory.Body.GetProperty("action").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Should_render_a_launchs_overrides()
    {
        var answer = await fx.PostAsync($"{Automations}/preview", Unsaved(new { type = "ADD_ARTIFACT_ALIAS" },
            new { type = "launch", job = "retrain", jobVersion = 1, queue = "gpu", overrides = new { artifact = "${artifact_version_string}", epochs = 5 } }, AliasEvent()), fx.MemberKey);
        Assert.True(answer.Status == HttpStatusCode.OK, answer.Text);
        var action = answer.Body.GetProperty("action");
        Assert.Equal(("retrain", 1, "gpu"), (action.GetProperty("job").GetString(), action.GetProperty("jobVersion").GetInt32(), action.GetProperty("queue").GetString()));
        Assert.Equal("acme/mnist/eval-set:production", action.GetProperty("overrides").GetProperty("artifact").GetString());
    }

    [Fact]
    public async Task Should_answer_404_for_an_unknown_automation_or_another_teams()
    {
        var sample = new { sample = AliasEvent() };
        Assert.Equal(HttpStatusCode.NotFound, (await fx.PostAsync($"{Automations}/{Guid.NewGuid()}/preview", sample, fx.MemberKey)).Status);

        var theirs = await fx.PostAsync("/v1/entities/globex/projects/mnist/automations",
            new { name = Unique("theirs"), @event = new { type = "CREATE_ARTIFACT", collection = "eval-set" }, action = new { type = "no_op" } }, fx.OtherEntityKey);
        Assert.Equal(HttpStatusCode.Created, theirs.Status);
        var id = theirs.Body.GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.NotFound, (await fx.PostAsync($"{Automations}/{id}/preview", sample)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.PostAsync($"/v1/entities/globex/projects/mnist/automations/{id}/preview", sample, fx.MemberKey)).Status);
        Assert.Equal(HttpStatusCode.OK, (await fx.PostAsync($"/v1/entities/globex/projects/mnist/automations/{id}/preview", sample, fx.OtherEntityKey)).Status);
    }

    public static TheoryData<string, string, string> BadSamples => new()
    {
        { "no sample", """{"name":"p","event":{"type":"ADD_ARTIFACT_ALIAS"},"action":{"type":"no_op"}}""", "sample" },
        { "a sample that is not an object", """{"name":"p","event":{"type":"ADD_ARTIFACT_ALIAS"},"action":{"type":"no_op"},"sample":"CREATE_ARTIFACT"}""", "sample" },
        { "a negative version index", """{"name":"p","event":{"type":"ADD_ARTIFACT_ALIAS"},"action":{"type":"no_op"},"sample":{"eventId":"s","eventType":"ADD_ARTIFACT_ALIAS","entity":"acme","project":"mnist","collection":"c","alias":"a","versionIndex":-1,"occurredAt":"2026-11-27T22:41:00Z"}}""", "sample.versionIndex" },
        { "an alias event without alias", """{"name":"p","event":{"type":"ADD_ARTIFACT_ALIAS"},"action":{"type":"no_op"},"sample":{"eventId":"s","eventType":"ADD_ARTIFACT_ALIAS","entity":"acme","project":"mnist","collection":"c","occurredAt":"2026-11-27T22:41:00Z"}}""", "sample.alias" },
        { "a snake_case name", """{"name":"p","event":{"type":"ADD_ARTIFACT_ALIAS"},"action":{"type":"no_op"},"sample":{"event_id":"s","eventType":"ADD_ARTIFACT_ALIAS","entity":"acme","project":"mnist","collection":"c","alias":"a","occurredAt":"2026-11-27T22:41:00Z"}}""", "sample.event_id" },
        { "a metric without a number", """{"name":"p","event":{"type":"ADD_ARTIFACT_ALIAS"},"action":{"type":"no_op"},"sample":{"eventId":"s","eventType":"RUN_METRIC","entity":"acme","project":"mnist","runId":"r","step":1,"metrics":{"loss":"low"},"occurredAt":"2026-11-27T22:41:00Z"}}""", "sample.metrics.loss" },
        { "a history for an artifact event", """{"name":"p","event":{"type":"ADD_ARTIFACT_ALIAS"},"action":{"type":"no_op"},"metricHistory":[1],"sample":{"eventId":"s","eventType":"ADD_ARTIFACT_ALIAS","entity":"acme","project":"mnist","collection":"c","alias":"a","occurredAt":"2026-11-27T22:41:00Z"}}""", "metricHistory" },
        { "a regex that does not compile (as on create)", """{"name":"p","event":{"type":"ADD_ARTIFACT_ALIAS","aliasRegex":"(prod"},"action":{"type":"no_op"},"sample":{}}""", "event.aliasRegex" },
    };

    [Theory]
    [MemberData(nameof(BadSamples))]
    public async Task Should_refuse_a_bad_body_with_a_400_naming_the_field(string because, string body, string field)
    {
        var answer = await fx.PostAsync($"{Automations}/preview", body, fx.MemberKey);
        Assert.True(answer.Status == HttpStatusCode.BadRequest, $"{because}: {answer.Status} {answer.Text}");
        Assert.True(ApiFixture.ErrorsOf(answer.Body, field).Length > 0, $"{because}: {answer.Text}");
    }

    [Fact]
    public async Task Should_refuse_a_template_that_multiplies_a_large_sample_value()
    {
        var payload = "{\"copies\":[" + string.Join(",", Enumerable.Repeat("\"${artifact_metadata.notes}\"", 100)) + "]}";
        var answer = await fx.PostAsync($"{Automations}/preview",
            Unsaved(new { type = "ADD_ARTIFACT_ALIAS" }, SignedWebhook(payload), AliasEvent(metadata: new { notes = new string('n', 200_000) })), fx.MemberKey);
        Assert.True(answer.Status == HttpStatusCode.BadRequest, answer.Text);
        Assert.True(ApiFixture.ErrorsOf(answer.Body, "action.payload").Length > 0, answer.Text);
    }
}
