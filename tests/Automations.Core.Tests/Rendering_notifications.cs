using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Notifications;
using Automations.Core.Templates;

namespace Automations.Core.Tests;

/// <summary>A notification as Rules renders it and the sender expands it: Slack Block Kit or a Teams Adaptive Card.</summary>
public class Rendering_notifications
{
    private static readonly ArtifactEventReceived Event =
        new(Guid.Parse("0193a5b2-7c3e-7d1a-9f00-0123456789ab"), "5b0c6a1e", EventTypes.AddArtifactAlias, "acme", "mnist", "model-registry",
            "QXJ0aWZhY3Q6NTE3ODg5ODg3", 7, "production", null, "jane \"j\" ${SLACK_TOKEN}", new DateTimeOffset(2026, 11, 27, 22, 41, 0, TimeSpan.Zero),
            """{"accuracy":0.93}""", new DateTimeOffset(2026, 11, 27, 22, 41, 1, TimeSpan.Zero));

    /// <summary>Both stages, as a delivery sends it: Rules' render, then the sender's secret expansion.</summary>
    private static JsonElement Sent(string kind, string title, string text, string severity, Func<string, string?>? secret = null)
    {
        var template = NotificationMessage.Template(kind, title, text, severity);
        var sealedPayload = PayloadTemplate.Render(template, TemplateVariables.For(Event, "notify-prod"));
        var body = PayloadTemplate.ExpandSecrets(sealedPayload, secret ?? (_ => null));
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.Clone();
    }

    public static TheoryData<string, string> SlackSeverities => new()
    {
        { Severities.Info, ":information_source:" },
        { Severities.Warning, ":warning:" },
        { Severities.Error, ":rotating_light:" },
    };

    [Theory]
    [MemberData(nameof(SlackSeverities))]
    public void Should_render_slack_block_kit_with_a_header_a_section_and_the_severity_in_context(string severity, string emoji)
    {
        var m = Sent(IntegrationKinds.Slack, "New ${artifact_collection_name} version", "*${artifact_version_string}* (acc ${artifact_metadata.accuracy})", severity);

        Assert.Equal($"{emoji} New model-registry version", m.GetProperty("text").GetString());
        var blocks = m.GetProperty("blocks");
        Assert.Equal(new[] { "header", "section", "context" }, blocks.EnumerateArray().Select(b => b.GetProperty("type").GetString()).ToArray());
        Assert.Equal("plain_text", blocks[0].GetProperty("text").GetProperty("type").GetString());
        Assert.Equal($"{emoji} New model-registry version", blocks[0].GetProperty("text").GetProperty("text").GetString());
        Assert.Equal("mrkdwn", blocks[1].GetProperty("text").GetProperty("type").GetString());
        Assert.Equal("*acme/mnist/model-registry:production* (acc 0.93)", blocks[1].GetProperty("text").GetProperty("text").GetString());
        Assert.Equal($"{emoji} *{severity.ToUpperInvariant()}* · notify-prod · acme/mnist",
            blocks[2].GetProperty("elements")[0].GetProperty("text").GetString());
    }

    [Fact]
    public void Should_keep_event_text_inside_its_string_and_never_read_it_as_a_secret()
    {
        var m = Sent(IntegrationKinds.Slack, "by ${event_author}", "${event_author} wrote $5 and ${TEAM_NOTE}", Severities.Info,
            name => name switch { "TEAM_NOTE" => "from the author's template", "SLACK_TOKEN" => "LEAKED", _ => null });

        var section = m.GetProperty("blocks")[1].GetProperty("text").GetProperty("text").GetString();
        Assert.Equal("jane \"j\" ${SLACK_TOKEN} wrote $5 and from the author's template", section);
        Assert.DoesNotContain("LEAKED", m.GetRawText(), StringComparison.Ordinal);
    }

    public static TheoryData<string, string> TeamsColors => new()
    {
        { Severities.Info, "Accent" },
        { Severities.Warning, "Warning" },
        { Severities.Error, "Attention" },
    };

    [Theory]
    [MemberData(nameof(TeamsColors))]
    public void Should_render_a_teams_adaptive_card_coloured_by_severity(string severity, string color)
    {
        var m = Sent(IntegrationKinds.Teams, "New ${artifact_collection_name} version", "${artifact_version_string}", severity);

        Assert.Equal("message", m.GetProperty("type").GetString());
        var attachment = m.GetProperty("attachments")[0];
        Assert.Equal("application/vnd.microsoft.card.adaptive", attachment.GetProperty("contentType").GetString());
        var card = attachment.GetProperty("content");
        Assert.Equal("AdaptiveCard", card.GetProperty("type").GetString());
        var body = card.GetProperty("body");
        Assert.Equal("New model-registry version", body[0].GetProperty("text").GetString());
        Assert.Equal(color, body[0].GetProperty("color").GetString());
        Assert.Equal("acme/mnist/model-registry:production", body[1].GetProperty("text").GetString());
        Assert.Equal(severity.ToUpperInvariant(), body[2].GetProperty("facts")[0].GetProperty("value").GetString());
    }

    [Theory]
    [InlineData("info", "info")]
    [InlineData("INFO", "info")]
    [InlineData("warn", "warning")]
    [InlineData("WARN", "warning")]
    [InlineData("Warning", "warning")]
    [InlineData("ERROR", "error")]
    [InlineData("fatal", null)]
    [InlineData("", null)]
    public void Should_read_wandb_and_lower_case_severities(string given, string? stored) =>
        Assert.Equal(stored, Severities.Normalize(given));

    [Theory]
    [InlineData("https://hooks.slack.com/services/T0000000/B0000000/XXXXXXXXXXXXXXXXXXXXabcd", "https://hooks.slack.com/********abcd")]
    [InlineData("https://example.com/short", "https://example.com/********")]
    [InlineData("http://receiver.test:8080/slack/services/T1/B2/secret-part-9876", "http://receiver.test:8080/********9876")]
    [InlineData("not a url", "********")]
    public void Should_mask_an_integration_url(string url, string shown) =>
        Assert.Equal(shown, NotificationMessage.MaskUrl(url));
}
