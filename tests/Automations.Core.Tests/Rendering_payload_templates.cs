using System.Text.Json;
using System.Text.Json.Nodes;
using Automations.Contracts;
using Automations.Core.Templates;
using static Automations.Core.Templates.PayloadTemplate;

namespace Automations.Core.Tests;

public class Rendering_payload_templates
{
    private static ArtifactEventReceived Event(string? alias = "production", string? author = "jane", string? metadataJson = """{"accuracy":0.93,"dataset":"mnist-v2","params":{"lr":0.01}}""") =>
        new(Guid.Parse("0193a5b2-7c3e-7d1a-9f00-0123456789ab"), "5b0c6a1e", EventTypes.AddArtifactAlias, "acme", "mnist", "model-registry",
            "QXJ0aWZhY3Q6NTE3ODg5ODg3", 7, alias, null, author, new DateTimeOffset(2026, 11, 27, 22, 41, 0, TimeSpan.Zero), metadataJson,
            new DateTimeOffset(2026, 11, 27, 22, 41, 1, TimeSpan.Zero));

    private static string Rules(string template, ArtifactEventReceived e, string automation = "deploy-on-prod") =>
        Render(template, TemplateVariables.For(e, automation));

    // The expected documents are written indented for reading; the renderer writes compact JSON that escapes only what JSON requires.
    private static string Compact(string json) =>
        JsonNode.Parse(json)!.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    // The seed payloads of the three integrations W&B documents, and what Rules turns them into.
    public static TheoryData<string, string, string> Integrations => new()
    {
        {
            "GitHub repository_dispatch",
            """
            {"event_type": "BUILD_AND_DEPLOY",
             "client_payload": {"event_author": "${event_author}", "artifact_version": "${artifact_version}",
               "artifact_version_string": "${artifact_version_string}", "artifact_collection_name": "${artifact_collection_name}",
               "project_name": "${project_name}", "entity_name": "${entity_name}"}}
            """,
            """
            {"event_type":"BUILD_AND_DEPLOY",
             "client_payload":{"event_author":"jane","artifact_version":"wandb-artifact://_id/QXJ0aWZhY3Q6NTE3ODg5ODg3",
               "artifact_version_string":"acme/mnist/model-registry:production","artifact_collection_name":"model-registry",
               "project_name":"mnist","entity_name":"acme"}}
            """
        },
        {
            "Slack blocks",
            """
            {"text": "${artifact_version_string} is now ${alias}",
             "blocks": [
               {"type": "header", "text": {"type": "plain_text", "text": "${event_type} in ${entity_name}/${project_name}"}},
               {"type": "section", "text": {"type": "mrkdwn", "text": "*${automation_name}*: <https://wandb.ai/${entity_name}/${project_name}|v${artifact_version_index}> accuracy ${artifact_metadata.accuracy}"}},
               {"type": "context", "elements": [{"type": "mrkdwn", "text": "by ${event_author}"}]}]}
            """,
            """
            {"text":"acme/mnist/model-registry:production is now production",
             "blocks":[
               {"type":"header","text":{"type":"plain_text","text":"ADD_ARTIFACT_ALIAS in acme/mnist"}},
               {"type":"section","text":{"type":"mrkdwn","text":"*deploy-on-prod*: <https://wandb.ai/acme/mnist|v7> accuracy 0.93"}},
               {"type":"context","elements":[{"type":"mrkdwn","text":"by jane"}]}]}
            """
        },
        {
            "Teams MessageCard",
            """
            {"@type": "MessageCard", "@context": "http://schema.org/extensions", "summary": "${event_type}", "themeColor": "0076D7",
             "sections": [{"activityTitle": "Notification from W&B", "activitySubtitle": "${automation_name}",
               "facts": [{"name": "Author", "value": "${event_author}"}, {"name": "Version", "value": "${artifact_version_string}"},
                         {"name": "Dataset", "value": "${artifact_metadata.dataset}"}, {"name": "Params", "value": "${artifact_metadata.params}"}],
               "markdown": true}]}
            """,
            """
            {"@type":"MessageCard","@context":"http://schema.org/extensions","summary":"ADD_ARTIFACT_ALIAS","themeColor":"0076D7",
             "sections":[{"activityTitle":"Notification from W&B","activitySubtitle":"deploy-on-prod",
               "facts":[{"name":"Author","value":"jane"},{"name":"Version","value":"acme/mnist/model-registry:production"},
                        {"name":"Dataset","value":"mnist-v2"},{"name":"Params","value":"{\"lr\":0.01}"}],
               "markdown":true}]}
            """
        },
    };

    [Theory]
    [MemberData(nameof(Integrations))]
    public void Should_render_an_integration_payload_to_exactly_the_expected_json(string integration, string template, string expected)
    {
        Assert.Empty(Validate(template, []));
        Assert.False(string.IsNullOrEmpty(integration));
        Assert.Equal(Compact(expected), Rules(template, Event()));
    }

    [Fact]
    public void Should_render_names_that_do_not_apply_empty_and_fall_back_to_the_version_index()
    {
        var rendered = Rules("""{"a":"[${alias}]","t":"[${tag}]","m":"[${artifact_metadata.missing}]","v":"${artifact_version_string}"}""", Event(alias: null, author: null));
        Assert.Equal("""{"a":"[]","t":"[]","m":"[]","v":"acme/mnist/model-registry:v7"}""", rendered);
    }

    [Fact]
    public void Should_leave_secret_references_as_names_for_the_sender()
    {
        const string template = """{"headers":{"Authorization":"token ${GITHUB_TOKEN}"},"ref":"${artifact_version_string}","${SLACK_KEY}":"x"}""";
        Assert.Equal("""{"headers":{"Authorization":"token ${GITHUB_TOKEN}"},"ref":"acme/mnist/model-registry:production","${SLACK_KEY}":"x"}""", Rules(template, Event()));
    }

    public static TheoryData<string, string> HostileValues => new()
    {
        { "double quotes", "say \"hi\", \"}" },
        { "a closing brace and bracket", "}]}" },
        { "a placeholder", "${GITHUB_TOKEN}" },
        { "an escaped placeholder", "$${GITHUB_TOKEN}" },
        { "a half placeholder", "${" },
        { "newlines and tabs", "line1\nline2\r\n\tend" },
        { "backslashes", "C:\\path\\\"x" },
        { "emoji and other scripts", "🚀 déployé 模型 \u0000" },
        { "json text", """{"injected":true}""" },
        { "html", "<script>alert(1)</script>" },
    };

    [Theory]
    [MemberData(nameof(HostileValues))]
    public void Should_keep_a_hostile_value_inside_its_string_through_both_stages(string kind, string value)
    {
        const string template = """{"text":"by ${event_author}!","alias":"${alias}","n":1,"auth":"${GITHUB_TOKEN}"}""";
        var sealedPayload = Rules(template, Event(alias: value, author: value));

        // Still the same document: same keys, untouched number, the secret still a name.
        var node = JsonNode.Parse(sealedPayload)!.AsObject();
        Assert.Equal(["text", "alias", "n", "auth"], node.Select(p => p.Key));
        Assert.Equal(1, node["n"]!.GetValue<int>());
        Assert.Equal("${GITHUB_TOKEN}", node["auth"]!.GetValue<string>());

        // The sender's stage fills secrets in, and a `${` that came from the event can never become one.
        var final = JsonNode.Parse(ExpandSecrets(sealedPayload, name => name == "GITHUB_TOKEN" ? "s3cret" : null))!.AsObject();
        Assert.True($"by {value}!" == final["text"]!.GetValue<string>(), kind);
        Assert.Equal(value, final["alias"]!.GetValue<string>());
        Assert.Equal("s3cret", final["auth"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"a":"${artifact_metadata.s}"}""", """{"s":"plain"}""", """{"a":"plain"}""")]
    [InlineData("""{"a":"${artifact_metadata.n}"}""", """{"n":1.5e3}""", """{"a":"1.5e3"}""")]
    [InlineData("""{"a":"${artifact_metadata.o}"}""", """{"o":{"k":[1,"}"]}}""", """{"a":"{\"k\":[1,\"}\"]}"}""")]
    [InlineData("""{"a":"${artifact_metadata.s}"}""", null, """{"a":""}""")]
    public void Should_render_a_top_level_metadata_key(string template, string? metadata, string expected) =>
        Assert.Equal(expected, Rules(template, Event(metadataJson: metadata)));

    [Fact]
    public void Should_always_produce_parseable_json() =>
        Assert.All(HostileValues, row =>
        {
            var value = (string)row[1];
            using var _ = JsonDocument.Parse(Rules("""["${event_author}", {"${alias}": "${alias}"}]""", Event(alias: value, author: value)));
        });
}
